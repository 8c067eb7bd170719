#include "identity/password.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace ward::identity {
namespace {

TEST(PasswordTest, HashAndVerify) {
  auto hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.has_value()) << hash.error().ToString();
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *hash));
}

TEST(PasswordTest, WrongPasswordRejected) {
  auto hash = HashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.has_value());
  EXPECT_FALSE(VerifyPassword("correct horse battery stapler", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
}

TEST(PasswordTest, FormatIsArgon2idWithPolicyParameters) {
  auto hash = HashPassword("pw");
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(hash->starts_with("$argon2id$")) << *hash;
  EXPECT_NE(hash->find("$v=19$m=19456,t=2,p=1$"), std::string::npos) << *hash;
  EXPECT_EQ(hash->find('\0'), std::string::npos);
}

TEST(PasswordTest, SaltMakesHashesDiffer) {
  auto a = HashPassword("same password");
  auto b = HashPassword("same password");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword("same password", *a));
  EXPECT_TRUE(VerifyPassword("same password", *b));
}

TEST(PasswordTest, EmptyAndBinaryPasswords) {
  auto empty = HashPassword("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(VerifyPassword("", *empty));
  EXPECT_FALSE(VerifyPassword("x", *empty));
  std::string binary("a\0b", 3);
  auto h = HashPassword(binary);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(VerifyPassword(binary, *h));
  EXPECT_FALSE(VerifyPassword("a", *h));  // the NUL does not truncate
}

TEST(PasswordTest, GarbageHashReturnsFalse) {
  EXPECT_FALSE(VerifyPassword("pw", ""));
  EXPECT_FALSE(VerifyPassword("pw", "garbage"));
  EXPECT_FALSE(VerifyPassword("pw", "$argon2id$"));
  EXPECT_FALSE(VerifyPassword("pw", "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!"));
  EXPECT_FALSE(VerifyPassword("pw", HashSecret("pw")));
  auto hash = HashPassword("pw");
  ASSERT_TRUE(hash.has_value());
  // argon2i of the same form is not our scheme.
  std::string argon2i = *hash;
  argon2i.replace(0, 10, "$argon2i$");
  EXPECT_FALSE(VerifyPassword("pw", argon2i));
  // Truncated or NUL-smuggled hashes.
  EXPECT_FALSE(VerifyPassword("pw", hash->substr(0, hash->size() - 5)));
  EXPECT_FALSE(VerifyPassword("pw", *hash + std::string("\0", 1)));
}

TEST(SecretTest, HashSecretIsLowerHexSha256) {
  EXPECT_EQ(HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string token = RandomToken();
  std::string h = HashSecret(token);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h, HexEncode(Sha256(token)));
}

TEST(SecretTest, VerifySecret) {
  std::string secret = RandomToken();
  std::string stored = HashSecret(secret);
  EXPECT_TRUE(VerifySecret(secret, stored));
  EXPECT_FALSE(VerifySecret(secret + "x", stored));
  EXPECT_FALSE(VerifySecret(RandomToken(), stored));
  EXPECT_FALSE(VerifySecret(secret, ""));
  EXPECT_FALSE(VerifySecret(secret, stored.substr(1)));
  EXPECT_FALSE(VerifySecret(stored, stored));  // the stored hash is not itself a secret
}

}  // namespace
}  // namespace ward::identity
