// Test support: sends stderr (where the log goes) to a file for as long as
// the object lives, so a test can read the lines written meanwhile.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace dg::test_support {

class CapturedStderr {
 public:
  CapturedStderr()
      : path_(std::filesystem::temp_directory_path() /
              ("dg-stderr-" + std::to_string(::getpid()) + "-" + std::to_string(next_id()))) {
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::filesystem::remove(path_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::vector<std::string> lines() const { return lines_with(""); }
  // The lines that hold `text`.
  std::vector<std::string> lines_with(std::string_view text) const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.find(text) != std::string::npos) out.push_back(line);
    }
    return out;
  }

 private:
  static int next_id() {
    static int id = 0;
    return ++id;
  }
  std::filesystem::path path_;
  int saved_;
};

}  // namespace dg::test_support
