// Claim codes: how they are made, read back as people type them, refused
// when mistyped, and hashed for the store.
#include "core/claim_code.h"

#include <gtest/gtest.h>

#include <set>

namespace dg::core {
namespace {

std::array<uint8_t, claim_code_random_bytes> bytes_of(uint8_t fill) {
  std::array<uint8_t, claim_code_random_bytes> random;
  random.fill(fill);
  return random;
}

// Checks the shape: 20 symbols of the Crockford alphabet (no I, L, O, U), and
// that the random part spends 5 bits per symbol from the front (all zero bits
// give zeros, all one bits give Zs).
TEST(ClaimCode, IsTwentyCrockfordSymbols) {
  std::string zeros = make_claim_code(bytes_of(0));
  EXPECT_EQ(zeros.substr(0, 19), std::string(19, '0'));
  std::string ones = make_claim_code(bytes_of(0xFF));
  EXPECT_EQ(ones.substr(0, 19), std::string(19, 'Z'));
  for (const std::string& code : {zeros, ones, make_claim_code(bytes_of(0x5A))}) {
    ASSERT_EQ(code.size(), claim_code_symbols);
    EXPECT_EQ(code.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos);
  }
}

// Checks that every random bit reaches the code: flipping any one of the 95
// used bits changes it (so no two byte strings that differ there collide).
TEST(ClaimCode, EveryUsedBitChangesTheCode) {
  std::set<std::string> codes{make_claim_code(bytes_of(0))};
  for (size_t bit = 0; bit < claim_code_random_symbols * 5; ++bit) {
    auto random = bytes_of(0);
    random[bit / 8] = static_cast<uint8_t>(0x80 >> (bit % 8));
    codes.insert(make_claim_code(random));
  }
  EXPECT_EQ(codes.size(), claim_code_random_symbols * 5 + 1);
}

// Checks that a code reads back however a person types it: lower case,
// hyphens or spaces, and O/I/L for 0/1.
TEST(ClaimCode, ParsesWhatPeopleType) {
  auto random = bytes_of(0);
  random[0] = 0x08;  // symbols 1, 0, 0
  random[1] = 0x00;
  std::string code = make_claim_code(random);
  ASSERT_EQ(code.substr(0, 3), "100");
  std::string printed = format_claim_code(code);
  EXPECT_EQ(printed.size(), 24u);
  EXPECT_EQ(printed[4], '-');
  EXPECT_EQ(parse_claim_code(printed).value(), code);
  std::string typed = printed;
  for (char& c : typed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  typed[0] = 'l';
  typed[1] = 'o';
  typed[2] = 'O';
  typed[4] = ' ';
  EXPECT_EQ(parse_claim_code(typed).value(), code);
}

// Checks that a single mistyped symbol and a swap of two neighbours are
// refused by the check symbol (for this code: each is caught with
// probability 31/32, and this one is caught everywhere).
TEST(ClaimCode, RefusesAMistypedCode) {
  std::string code = make_claim_code(bytes_of(0x3C));
  int caught = 0;
  int tried = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    std::string typo = code;
    typo[i] = typo[i] == '7' ? '8' : '7';
    ++tried;
    caught += parse_claim_code(typo).has_value() ? 0 : 1;
  }
  for (size_t i = 0; i + 1 < code.size(); ++i) {
    if (code[i] == code[i + 1]) continue;
    std::string swapped = code;
    std::swap(swapped[i], swapped[i + 1]);
    ++tried;
    caught += parse_claim_code(swapped).has_value() ? 0 : 1;
  }
  EXPECT_GE(caught, tried - 2) << "the check symbol lets typos through";
}

// Checks the refusals of things that are not codes: wrong length, a symbol
// outside the alphabet (U), and input beyond the length limit.
TEST(ClaimCode, RefusesWhatIsNotACode) {
  std::string code = make_claim_code(bytes_of(7));
  EXPECT_FALSE(parse_claim_code(code.substr(1)).has_value());
  EXPECT_FALSE(parse_claim_code(code + "0").has_value());
  EXPECT_FALSE(parse_claim_code("").has_value());
  std::string with_u = code;
  with_u[3] = 'U';
  EXPECT_FALSE(parse_claim_code(with_u).has_value());
  EXPECT_FALSE(parse_claim_code(std::string(200, '-') + code).has_value());
  EXPECT_FALSE(parse_claim_code(code + "\n").has_value());
}

// Checks that the stored hash is of the canonical form: every typing of one
// code hashes alike, two codes differ, and the hash is not the code.
TEST(ClaimCode, HashesTheCanonicalForm) {
  std::string code = make_claim_code(bytes_of(9));
  std::string hash = claim_code_sha256(code);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(claim_code_sha256(parse_claim_code(format_claim_code(code)).value()), hash);
  EXPECT_NE(claim_code_sha256(make_claim_code(bytes_of(10))), hash);
  EXPECT_EQ(hash.find(code), std::string::npos);
}

}  // namespace
}  // namespace dg::core
