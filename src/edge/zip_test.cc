// Archives are checked by the reader people will use: Info-ZIP's unzip and
// zipinfo (Debian package "unzip") read what ZipPlan lays out, test every
// CRC and extract the bytes. The ZIP64 case uses a sparse 4.5 GiB file and
// writes the archive sparse too, so no test writes gigabytes to disk.
#include "edge/zip.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "base/encoding.h"
#include "base/limits.h"
#include "support/temp_dir.h"

namespace dg::edge {
namespace {

namespace fs = std::filesystem;

std::string pattern_bytes(size_t size, uint32_t seed = 1) {
  std::string bytes(size, '\0');
  std::mt19937 random(seed);
  for (char& byte : bytes) byte = static_cast<char>(random() & 0xFF);
  return bytes;
}

std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout, and stderr when kept
};

enum class Stderr { drop, keep };

// Runs a shell command with a UTF-8 locale and UTC as the time zone (unzip
// reads DOS times as local time).
CommandResult run(const std::string& command, Stderr stderr_output = Stderr::drop) {
  CommandResult result;
  std::string full = "LC_ALL=C.UTF-8 TZ=UTC " + command +
                     (stderr_output == Stderr::keep ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  char chunk[64 * 1024];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) result.output.append(chunk, got);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The bytes the segments stand for, as the server would send them.
std::string read_segments(const std::vector<http::Segment>& segments) {
  std::string out;
  for (const http::Segment& segment : segments) {
    if (const auto* bytes = std::get_if<std::string>(&segment)) {
      EXPECT_FALSE(bytes->empty());  // the plan never emits empty segments
      out += *bytes;
      continue;
    }
    const auto& file = std::get<http::FileBody>(segment);
    EXPECT_GT(file.length, 0u);
    std::ifstream in(file.path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(file.offset));
    std::string part(file.length, '\0');
    in.read(part.data(), static_cast<std::streamsize>(part.size()));
    EXPECT_EQ(static_cast<uint64_t>(in.gcount()), file.length) << file.path;
    out += part;
  }
  return out;
}

// Copies [offset, offset + length) of `from` to `to_fd` at `to_offset`,
// skipping holes, so that sparse stays sparse.
void copy_data_extents(const fs::path& from, uint64_t offset, uint64_t length, int to_fd,
                       uint64_t to_offset) {
  int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << from;
  std::vector<char> buffer(1 << 20);
  off_t end = static_cast<off_t>(offset + length);
  off_t at = static_cast<off_t>(offset);
  while (at < end) {
    off_t data = ::lseek(fd, at, SEEK_DATA);
    if (data < 0 || data >= end) break;  // only a hole is left
    off_t hole = std::min<off_t>(::lseek(fd, data, SEEK_HOLE), end);
    for (off_t pos = data; pos < hole;) {
      size_t want = static_cast<size_t>(std::min<off_t>(hole - pos, buffer.size()));
      ssize_t got = ::pread(fd, buffer.data(), want, pos);
      ASSERT_GT(got, 0);
      off_t target = static_cast<off_t>(to_offset) + (pos - static_cast<off_t>(offset));
      ASSERT_EQ(::pwrite(to_fd, buffer.data(), static_cast<size_t>(got), target), got);
      pos += got;
    }
    at = hole;
  }
  ::close(fd);
}

// Writes the archive to `path` from plan.segments(), as a sparse file.
void write_archive(const ZipPlan& plan, const fs::path& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(plan.total_bytes())), 0);
  uint64_t at = 0;
  for (const http::Segment& segment : plan.segments(0, plan.total_bytes() - 1)) {
    if (const auto* bytes = std::get_if<std::string>(&segment)) {
      ASSERT_EQ(::pwrite(fd, bytes->data(), bytes->size(), static_cast<off_t>(at)),
                static_cast<ssize_t>(bytes->size()));
      at += bytes->size();
    } else {
      const auto& file = std::get<http::FileBody>(segment);
      copy_data_extents(file.path, file.offset, file.length, fd, at);
      at += file.length;
    }
  }
  EXPECT_EQ(at, plan.total_bytes());
  ::close(fd);
}

uint16_t le16(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(bytes[at]) | static_cast<uint8_t>(bytes[at + 1])
                                                                     << 8);
}

// --- CRC-32 of n zero bytes without reading them: the CRC register is linear,
// so n zero bytes multiply it by x^(8n) modulo the polynomial (zlib's
// crc32_combine arithmetic). An oracle independent of crc32_update.

constexpr uint32_t polynomial_reflected = 0xEDB88320;

uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ polynomial_reflected : b >> 1;
  }
  return product;
}

// x^(8 * byte_count) mod p, by squaring.
uint32_t x_to_the_8n_mod_p(uint64_t byte_count) {
  uint32_t result = 1u << 31;                                           // x^0
  uint32_t square = 1u << 30;                                           // x^1
  for (int i = 0; i < 3; ++i) square = multiply_mod_p(square, square);  // x^8
  for (; byte_count != 0; byte_count >>= 1) {
    if (byte_count & 1) result = multiply_mod_p(square, result);
    square = multiply_mod_p(square, square);
  }
  return result;
}

uint32_t crc32_of_zeros(uint64_t byte_count) {
  return multiply_mod_p(x_to_the_8n_mod_p(byte_count), 0xFFFFFFFF) ^ 0xFFFFFFFF;
}

class ZipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty()) << "no temporary folder";
    ASSERT_EQ(run("unzip -v").exit_code, 0)
        << "these tests need Info-ZIP unzip (apt-get install unzip)";
  }
  // A file in the test folder and its entry, named `name` in the archive.
  ZipEntry entry(const std::string& name, std::string_view bytes, int64_t mtime_ms = 0) {
    fs::path path = dir_ / ("blob-" + std::to_string(blob_counter_++));
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    Result<uint32_t> crc = crc32_file(path);
    EXPECT_TRUE(crc.has_value());
    contents_[name] = std::string(bytes);
    return ZipEntry{name, bytes.size(), crc.value_or(0), path, mtime_ms};
  }

  // An assortment: empty, text, binary, folders, UTF-8 names.
  std::vector<ZipEntry> assorted_entries() {
    return {entry("empty.txt", "", 1'600'000'000'000),
            entry("readme.txt", "Thanks for buying the record.\n", 1'763'704'800'000),
            entry("disc 1/01 Opening.flac", pattern_bytes(100 * 1024 + 3, 1), 1'700'000'001'999),
            entry("disc 1/art/cover.jpg", pattern_bytes(7777, 2), 1'700'000'000'000),
            entry("Bjørk/Jóga – 日本語 🎵.flac", pattern_bytes(4096, 3), 1'500'000'000'000),
            entry("also-empty", "", 1'600'000'000'000)};
  }

  fs::path write(const ZipPlan& plan, const std::string& name = "archive.zip") {
    fs::path path = dir_ / name;
    write_archive(plan, path);
    return path;
  }

  // `unzip -t` passes and `unzip -p` gives each entry's bytes back.
  void expect_unzip_reads(const fs::path& archive, const std::vector<ZipEntry>& entries) {
    CommandResult tested = run("unzip -t " + shell_quote(archive.string()));
    EXPECT_EQ(tested.exit_code, 0) << tested.output;
    EXPECT_NE(tested.output.find("No errors detected"), std::string::npos) << tested.output;
    for (const ZipEntry& e : entries) {
      CommandResult extracted =
          run("unzip -p " + shell_quote(archive.string()) + " " + shell_quote(e.name));
      EXPECT_EQ(extracted.exit_code, 0) << e.name;
      EXPECT_TRUE(extracted.output == contents_[e.name]) << e.name;
    }
  }

  dg::testing::TempDir temp_;  // before what uses it: removed last
  const fs::path& dir_ = temp_.path();
  int blob_counter_ = 0;
  std::map<std::string, std::string> contents_;  // by entry name
};

// --- CRC-32.

TEST(Crc32Test, KnownAnswers) {
  EXPECT_EQ(crc32_update(0, {}), 0u);
  EXPECT_EQ(crc32_update(0, as_bytes("a")), 0xE8B7BE43u);
  EXPECT_EQ(crc32_update(0, as_bytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(crc32_update(0, as_bytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);
}

TEST(Crc32Test, ChainingAtEverySplitEqualsTheWholeAndMatchesBoostCrc) {
  std::string bytes = pattern_bytes(1000);
  boost::crc_32_type reference;
  reference.process_bytes(bytes.data(), bytes.size());
  uint32_t whole = crc32_update(0, as_bytes(bytes));
  EXPECT_EQ(whole, reference.checksum());
  for (size_t split = 0; split <= bytes.size(); ++split) {
    std::string_view text = bytes;
    uint32_t chained = crc32_update(crc32_update(0, as_bytes(text.substr(0, split))),
                                    as_bytes(text.substr(split)));
    ASSERT_EQ(chained, whole) << split;
  }
  // Unaligned starts and every tail length of the 8-byte loop.
  for (size_t start = 0; start < 16; ++start) {
    for (size_t length = 0; length < 40; ++length) {
      boost::crc_32_type part;
      part.process_bytes(bytes.data() + start, length);
      ASSERT_EQ(crc32_update(0, as_bytes(std::string_view(bytes).substr(start, length))),
                part.checksum());
    }
  }
}

TEST(Crc32Test, ZerosOracleAgreesWithCrc32Update) {
  for (size_t count : {0, 1, 7, 8, 9, 1000, 1024 * 1024 + 3}) {
    std::string zeros(count, '\0');
    EXPECT_EQ(crc32_of_zeros(count), crc32_update(0, as_bytes(zeros))) << count;
  }
}

TEST_F(ZipTest, Crc32FileMatchesTheBytesAndReportsErrors) {
  std::string bytes = pattern_bytes(3 * limits::hash_read_buffer_bytes + 5);
  ZipEntry e = entry("x", bytes);
  EXPECT_EQ(e.crc32, crc32_update(0, as_bytes(bytes)));
  EXPECT_EQ(crc32_file(dir_ / "absent").error().code(), Code::not_found);
  EXPECT_EQ(crc32_file(dir_).error().code(), Code::invalid_argument);
}

// --- Layout, checked by unzip.

TEST_F(ZipTest, AssortedFilesPassUnzipTestAndExtractByteForByte) {
  std::vector<ZipEntry> entries = assorted_entries();
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value()) << plan.error().to_string();
  EXPECT_EQ(plan->entry_count(), entries.size());
  fs::path archive = write(*plan);
  EXPECT_EQ(fs::file_size(archive), plan->total_bytes());
  expect_unzip_reads(archive, entries);

  // zipinfo lists the names in order, UTF-8 intact.
  CommandResult names = run("zipinfo -1 " + shell_quote(archive.string()));
  EXPECT_EQ(names.exit_code, 0);
  std::string expected_names;
  for (const ZipEntry& e : entries) expected_names += e.name + "\n";
  EXPECT_EQ(names.output, expected_names);
}

TEST_F(ZipTest, ExtractedFilesGetTheirBytesFoldersAndModificationTimes) {
  std::vector<ZipEntry> entries = assorted_entries();
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  fs::path archive = write(*plan);
  fs::path out = dir_ / "out";
  CommandResult extracted =
      run("unzip -q " + shell_quote(archive.string()) + " -d " + shell_quote(out.string()));
  ASSERT_EQ(extracted.exit_code, 0) << extracted.output;
  for (const ZipEntry& e : entries) {
    fs::path path = out / fs::path(std::u8string(e.name.begin(), e.name.end()));
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_TRUE(bytes == contents_[e.name]) << e.name;
    struct stat info {};
    ASSERT_EQ(::stat(path.c_str(), &info), 0) << e.name;
    // DOS times have 2-second steps; unzip read them in UTC (TZ=UTC).
    int64_t expected_s = e.mtime_ms / 1000 / 2 * 2;
    EXPECT_EQ(static_cast<int64_t>(info.st_mtime), expected_s) << e.name;
    EXPECT_EQ(info.st_mode & 0777, 0644u) << e.name;
  }
}

TEST_F(ZipTest, EmptyArchiveIsTheEndRecordAlone) {
  Result<ZipPlan> plan = ZipPlan::create({});
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->total_bytes(), 22u);
  fs::path archive = write(*plan);
  // unzip calls an empty archive a warning (exit 1) but reads it.
  CommandResult listed = run("unzip -l " + shell_quote(archive.string()), Stderr::keep);
  EXPECT_NE(listed.output.find("zipfile is empty"), std::string::npos) << listed.output;
}

TEST_F(ZipTest, SameEntriesGiveTheSameBytes) {
  std::vector<ZipEntry> entries = assorted_entries();
  Result<ZipPlan> first = ZipPlan::create(entries);
  Result<ZipPlan> second = ZipPlan::create(entries);
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_EQ(first->total_bytes(), second->total_bytes());
  std::string a = read_segments(first->segments(0, first->total_bytes() - 1));
  std::string b = read_segments(second->segments(0, second->total_bytes() - 1));
  EXPECT_EQ(a.size(), first->total_bytes());
  EXPECT_TRUE(a == b);
}

TEST_F(ZipTest, HeadersCarryTheFlagsVersionsAndDosTimes) {
  std::vector<ZipEntry> entries = {
      entry("ascii.txt", "x", 1'763'704'923'000),  // 2025-11-21T06:02:03Z
      entry("é.txt", "y", 0),                      // 1970: clamped to 1980-01-01 00:00:00
      entry("late.txt", "z", 5'000'000'000'000)};  // 2128: clamped to 2107-12-31 23:59:58
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  std::string bytes = read_segments(plan->segments(0, plan->total_bytes() - 1));
  // Local headers: 30 bytes, the name, the one-byte file.
  size_t at = 0;
  struct Expected {
    uint16_t flags;
    uint16_t time;
    uint16_t date;
  };
  const Expected expected[] = {{0, 6 << 11 | 2 << 5 | 3 / 2, (2025 - 1980) << 9 | 11 << 5 | 21},
                               {1 << 11, 0, 0 << 9 | 1 << 5 | 1},
                               {0, 23 << 11 | 59 << 5 | 58 / 2, (2107 - 1980) << 9 | 12 << 5 | 31}};
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_EQ(bytes.substr(at, 4), std::string("PK\x03\x04", 4));
    EXPECT_EQ(le16(bytes, at + 4), 10u) << i;  // version needed: 1.0
    EXPECT_EQ(le16(bytes, at + 6), expected[i].flags) << i;
    EXPECT_EQ(le16(bytes, at + 8), 0u) << i;  // stored
    EXPECT_EQ(le16(bytes, at + 10), expected[i].time) << i;
    EXPECT_EQ(le16(bytes, at + 12), expected[i].date) << i;
    EXPECT_EQ(le16(bytes, at + 28), 0u) << i;  // no extra field
    at += 30 + entries[i].name.size() + 1;
  }
  EXPECT_EQ(bytes.substr(at, 4), std::string("PK\x01\x02", 4));  // the central directory
}

TEST_F(ZipTest, ForcedZip64PassesUnzipAndUsesTheZip64Records) {
  std::vector<ZipEntry> entries = assorted_entries();
  Result<ZipPlan> plan = ZipPlan::create(entries, {.force_zip64 = true});
  ASSERT_TRUE(plan.has_value());
  fs::path archive = write(*plan, "forced.zip");
  expect_unzip_reads(archive, entries);
  std::string bytes = read_segments(plan->segments(0, plan->total_bytes() - 1));
  EXPECT_EQ(le16(bytes, 4), 45u);  // version needed: 4.5
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos);
  EXPECT_NE(bytes.find(std::string("PK\x06\x07", 4)), std::string::npos);
  // The classic end record defers to the ZIP64 one.
  std::string end = bytes.substr(bytes.size() - 22);
  EXPECT_EQ(end.substr(0, 4), std::string("PK\x05\x06", 4));
  EXPECT_EQ(le16(end, 10), 0xFFFFu);
}

TEST_F(ZipTest, BadNamesAndSizesAreRefused) {
  for (const std::string& name : std::vector<std::string>{
           "", "/abs.txt", "a/../b.txt", "./a.txt", "a//b.txt", "a\\b.txt", "dir/",
           std::string("bad\xff.txt"), std::string("nul\0.txt", 8), std::string("tab\t.txt")}) {
    Result<ZipPlan> plan = ZipPlan::create({entry(name, "x")});
    ASSERT_FALSE(plan.has_value()) << name;
    EXPECT_EQ(plan.error().code(), Code::invalid_argument) << name;
  }
  Result<ZipPlan> twice = ZipPlan::create({entry("a.txt", "1"), entry("a.txt", "2")});
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code(), Code::invalid_argument);
  Result<ZipPlan> file_and_folder = ZipPlan::create({entry("a/b/c.txt", "1"), entry("a/b", "2")});
  ASSERT_FALSE(file_and_folder.has_value());
  EXPECT_EQ(file_and_folder.error().code(), Code::invalid_argument);

  ZipEntry huge = entry("huge.bin", "x");
  huge.size_bytes = limits::asset_size_bytes_max + 1;
  Result<ZipPlan> too_large = ZipPlan::create({huge});
  ASSERT_FALSE(too_large.has_value());
  EXPECT_EQ(too_large.error().code(), Code::invalid_argument);
}

TEST_F(ZipTest, MoreEntriesThanAManifestHoldsAreRefused) {
  ZipEntry one = entry("f", "");
  std::vector<ZipEntry> entries(limits::manifest_assets_max + 1, one);
  for (size_t i = 0; i < entries.size(); ++i) entries[i].name = "f" + std::to_string(i);
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code(), Code::limit_exceeded);
  entries.pop_back();
  EXPECT_TRUE(ZipPlan::create(entries).has_value());
}

// --- Ranges.

TEST_F(ZipTest, RangesStitchBackIntoTheWholeArchive) {
  std::vector<ZipEntry> entries = {entry("a.txt", "alpha"), entry("empty", ""),
                                   entry("dir/b.bin", pattern_bytes(300)),
                                   entry("Größe.txt", "size")};
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  const uint64_t total = plan->total_bytes();
  const std::string whole = read_segments(plan->segments(0, total - 1));
  ASSERT_EQ(whole.size(), total);
  // Every split point: [0, a] then [a + 1, end].
  for (uint64_t a = 0; a + 1 < total; ++a) {
    std::string stitched =
        read_segments(plan->segments(0, a)) + read_segments(plan->segments(a + 1, total - 1));
    ASSERT_TRUE(stitched == whole) << a;
  }
  // Every range that starts or ends near a piece boundary, and a grid of others.
  for (uint64_t first = 0; first < total; first += 7) {
    for (uint64_t last = first; last < total; last += 13) {
      ASSERT_TRUE(read_segments(plan->segments(first, last)) ==
                  whole.substr(first, last - first + 1))
          << first << "-" << last;
    }
  }
  EXPECT_EQ(read_segments(plan->segments(total - 1, total - 1)), whole.substr(total - 1));
}

TEST_F(ZipTest, ResumedDownloadOfALargerArchivePassesUnzip) {
  std::vector<ZipEntry> entries = {entry("one.bin", pattern_bytes(3 << 20, 7)),
                                   entry("two/three.bin", pattern_bytes((1 << 20) + 1, 8))};
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  uint64_t total = plan->total_bytes();
  std::mt19937_64 random(42);
  for (int round = 0; round < 8; ++round) {
    uint64_t cut = random() % (total - 1);
    std::string bytes =
        read_segments(plan->segments(0, cut)) + read_segments(plan->segments(cut + 1, total - 1));
    fs::path path = dir_ / ("resumed-" + std::to_string(round) + ".zip");
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    CommandResult tested = run("unzip -tq " + shell_quote(path.string()));
    EXPECT_EQ(tested.exit_code, 0) << "cut at " << cut << ": " << tested.output;
  }
}

// --- ZIP64 for real: a 4.5 GiB file (sparse: zeros), with an entry after it
// whose offset is past 4 GiB. `unzip -t` of the whole archive reads the
// 4.5 GiB: 26 s of CPU, 37 s on the loaded build machine, over the 30 s a
// test may take. So unzip tests the entries around it and zipinfo shows the
// ZIP64 sizes and offsets it read; ForcedZip64PassesUnzipAndUsesTheZip64Records
// has unzip test every ZIP64 field in full, with small files.

TEST_F(ZipTest, FileOver4GiBIsListedWithItsSizeAndTheEntryAfterItExtracts) {
  constexpr uint64_t big_bytes = 4608ull * 1024 * 1024;  // 4.5 GiB
  fs::path big_path = dir_ / "big";
  {
    int fd = ::open(big_path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(big_bytes)), 0);
    ::close(fd);
  }
  std::vector<ZipEntry> entries = {
      entry("before.txt", "before"),
      ZipEntry{"big.bin", big_bytes, crc32_of_zeros(big_bytes), big_path, 1'700'000'000'000},
      entry("after.txt", "after the big one")};
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  fs::path archive = write(*plan, "big.zip");
  EXPECT_EQ(fs::file_size(archive), plan->total_bytes());
  EXPECT_GT(plan->total_bytes(), big_bytes);

  CommandResult listed = run("unzip -l " + shell_quote(archive.string()));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  std::istringstream lines(listed.output);
  std::string line;
  bool big_listed = false;
  while (std::getline(lines, line)) {
    if (line.ends_with(" big.bin")) {
      big_listed = true;
      EXPECT_NE(line.find(std::to_string(big_bytes) + " "), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(big_listed) << listed.output;

  // zipinfo -v shows what it read from the ZIP64 fields: the big sizes, its
  // CRC (0xe90177c6, which Python's zlib.crc32 agrees with), the offset of the
  // entry after it, and the archive's size.
  CommandResult details = run("zipinfo -v " + shell_quote(archive.string()));
  ASSERT_EQ(details.exit_code, 0) << details.output;
  const std::string& text = details.output;
  auto contains = [&](const std::string& wanted) { return text.find(wanted) != text.npos; };
  EXPECT_EQ(crc32_of_zeros(big_bytes), 0xe90177c6u);
  EXPECT_TRUE(contains("32-bit CRC value (hex):                         e90177c6")) << text;
  EXPECT_TRUE(contains("compressed size:                                4831838208 bytes")) << text;
  EXPECT_TRUE(contains("uncompressed size:                              4831838208 bytes")) << text;
  EXPECT_TRUE(contains("minimum software version required to extract:   4.5")) << text;
  uint64_t after_offset = (30 + 10 + 6) + (30 + 7 + 20) + big_bytes;
  EXPECT_TRUE(
      contains("offset of local header from start of archive:   " + std::to_string(after_offset)))
      << text;
  EXPECT_TRUE(
      contains("Zip archive file size:                " + std::to_string(plan->total_bytes())))
      << text;

  CommandResult tested = run("unzip -t " + shell_quote(archive.string()) + " before.txt after.txt");
  EXPECT_EQ(tested.exit_code, 0) << tested.output;
  EXPECT_NE(tested.output.find("No errors detected"), std::string::npos) << tested.output;
  CommandResult after = run("unzip -p " + shell_quote(archive.string()) + " after.txt");
  EXPECT_EQ(after.exit_code, 0);
  EXPECT_EQ(after.output, "after the big one");
}

// --- Serving: what an edge's archive route does, through a real http::Server.

// Answers a GET or HEAD for the archive: whole, or one range (206, or 416).
http::Response archive_response(const http::Request& request, const ZipPlan& plan) {
  http::Response response;
  response.headers.set(http::Field::content_type, "application/zip");
  response.headers.set(http::Field::accept_ranges, "bytes");
  uint64_t first = 0;
  uint64_t last = plan.total_bytes() - 1;
  std::string_view range_header = request.header(http::Field::range);
  if (request.method == http::Verb::get && !range_header.empty()) {
    Result<std::optional<http::ByteRange>> range =
        http::parse_range(range_header, plan.total_bytes());
    std::string total = std::to_string(plan.total_bytes());
    if (!range) {
      response.status = 416;
      response.headers.set(http::Field::content_range, "bytes */" + total);
      return response;
    }
    if (*range) {
      first = (*range)->first;
      last = (*range)->last;
      response.status = 206;
      response.headers.set(http::Field::content_range, "bytes " + std::to_string(first) + "-" +
                                                           std::to_string(last) + "/" + total);
    }
  }
  response.body = http::SegmentedBody{plan.segments(first, last)};
  return response;
}

struct RawResponse {
  unsigned status = 0;
  std::string head;  // status line and header fields
  std::string body;
};

// One request on its own connection, read until the server closes it.
RawResponse fetch(uint16_t port, const std::string& method, const std::string& extra_headers) {
  RawResponse response;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{20, 0};  // only a bug takes this long
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string request =
      method + " /all.zip HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra_headers + "\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return response;
  }
  std::string raw;
  char chunk[64 * 1024];
  ssize_t got;
  while ((got = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
    raw.append(chunk, static_cast<size_t>(got));
  ::close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) return response;
  response.status = static_cast<unsigned>(std::stoul(raw.substr(9, 3)));
  response.head = raw.substr(0, head_end);
  response.body = raw.substr(head_end + 4);
  return response;
}

class ZipServingTest : public ZipTest {
 protected:
  void start(const ZipPlan& plan) {
    router_.add(http::Verb::get, "/all.zip",
                [&plan](http::Request& request) { return archive_response(request, plan); },
                {.blocking = false});
    server_ = std::make_unique<http::Server>(
        router_,
        http::ServerOptions{
            .listen_address = "127.0.0.1", .port = 0, .io_threads = 1, .handler_threads = 1});
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
    run_thread_ = std::thread([this] { server_->run(/*handle_signals=*/false); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      run_thread_.join();
      server_.reset();
    }
    ZipTest::TearDown();
  }
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread run_thread_;
};

TEST_F(ZipServingTest, ArchiveIsServedWholeAndAsResumableRanges) {
  std::vector<ZipEntry> entries = assorted_entries();
  entries.push_back(
      entry("disc 2/long.flac", pattern_bytes(5 << 20, 9)));  // several sendfile turns
  Result<ZipPlan> plan = ZipPlan::create(entries);
  ASSERT_TRUE(plan.has_value());
  start(*plan);
  const uint64_t total = plan->total_bytes();
  const std::string whole = read_segments(plan->segments(0, total - 1));

  RawResponse full = fetch(server_->port(), "GET", "");
  EXPECT_EQ(full.status, 200u);
  EXPECT_NE(full.head.find("Content-Length: " + std::to_string(total)), std::string::npos);
  EXPECT_TRUE(full.body == whole);

  // A download cut after `cut` bytes resumes with "bytes=cut-"; the two parts
  // make an archive unzip accepts.
  for (uint64_t cut : {uint64_t{1}, uint64_t{100}, total / 2, total - 22, total - 1}) {
    RawResponse start_part =
        fetch(server_->port(), "GET", "Range: bytes=0-" + std::to_string(cut - 1) + "\r\n");
    RawResponse rest =
        fetch(server_->port(), "GET", "Range: bytes=" + std::to_string(cut) + "-\r\n");
    EXPECT_EQ(start_part.status, 206u);
    EXPECT_EQ(rest.status, 206u);
    EXPECT_NE(rest.head.find("Content-Range: bytes " + std::to_string(cut) + "-" +
                             std::to_string(total - 1) + "/" + std::to_string(total)),
              std::string::npos)
        << rest.head;
    EXPECT_TRUE(start_part.body + rest.body == whole) << "cut at " << cut;
  }
  fs::path path = dir_ / "downloaded.zip";
  std::ofstream(path, std::ios::binary)
      .write(full.body.data(), static_cast<std::streamsize>(full.body.size()));
  expect_unzip_reads(path, entries);

  RawResponse head = fetch(server_->port(), "HEAD", "");
  EXPECT_EQ(head.status, 200u);
  EXPECT_NE(head.head.find("Content-Length: " + std::to_string(total)), std::string::npos);
  EXPECT_EQ(head.body, "");

  RawResponse past_end =
      fetch(server_->port(), "GET", "Range: bytes=" + std::to_string(total) + "-\r\n");
  EXPECT_EQ(past_end.status, 416u);
}

}  // namespace
}  // namespace dg::edge
