// The destination registry: validation names the field, and secrets never come back from the API,
// whatever their key's casing, while "***" sent back keeps the stored secret.
#include "stream/destinations.h"

#include <gtest/gtest.h>

namespace ward::stream {
namespace {

json::Value Parse(const char* text) { return *json::Value::Parse(text); }

TEST(DestinationsTest, ValidationNamesTheField) {
  auto check = [](const char* text, const char* field) {
    Status st = ValidateDestinations(Parse(text));
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
  };
  check(R"({})", "destinations must be an array");
  check(R"([])", "at least one");
  check(R"([{"name":"a b","type":"File"}])", "destinations[0].name");
  check(R"([{"name":"a","type":"File"},{"name":"A","type":"File"}])", "destinations[1].name");
  check(R"([{"name":"a","type":"Nope"}])", "destinations[0].type must be one of AzureBlob, Kafka, File, Syslog");
  check(R"([{"name":"a","type":"AzureBlob"}])", "destinations[0].");
  EXPECT_TRUE(ValidateDestinations(Parse(R"([{"name":"a","type":"file","directory":"x"}])")).ok());
}

TEST(DestinationsTest, SecretsAreRedactedAndRestoredWhateverTheirCase) {
  json::Value stored = Parse(
      R"([{"name":"az","type":"AzureBlob","ConnectionString":"AccountName=a;AccountKey=k"},{"name":"f","type":"File"}])");
  json::Value shown = RedactDestinations(stored);
  EXPECT_EQ(shown.items()[0].GetString("ConnectionString"), "***");
  EXPECT_EQ(shown.Serialize().find("AccountKey"), std::string::npos);
  json::Value back = RestoreRedactedSecrets(shown, stored);
  EXPECT_EQ(back.items()[0].GetString("ConnectionString"), "AccountName=a;AccountKey=k");
  // A new value replaces the secret; "***" for a destination that had none stays "***" (and fails validation).
  json::Value changed = Parse(R"([{"name":"az","type":"AzureBlob","connectionString":"AccountName=b;AccountKey=j"}])");
  EXPECT_EQ(RestoreRedactedSecrets(changed, stored).items()[0].GetString("connectionString"), "AccountName=b;AccountKey=j");
  json::Value unknown = Parse(R"([{"name":"other","type":"AzureBlob","connectionString":"***"}])");
  EXPECT_EQ(RestoreRedactedSecrets(unknown, stored).items()[0].GetString("connectionString"), "***");
}

}  // namespace
}  // namespace ward::stream
