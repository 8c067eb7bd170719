#include "api/indicator_feeds.h"

#include <gtest/gtest.h>

namespace ward::api {
namespace {

const char* kHeader =
    "IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,RecommendedActions,RbacGroups,"
    "Category,MitreTechniques,GenerateAlert\r\n";

TEST(CsvRecords, QuotedFieldsPerRfc4180) {
  auto r = ParseCsvRecords("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",,x\n\n");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], (std::vector<std::string>{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ((*r)[1], (std::vector<std::string>{"multi\nline", "", "x"}));
}

TEST(CsvRecords, RejectsUnterminatedQuoteAndTextAfterQuote) {
  auto open = ParseCsvRecords("a,b\n\"never closed,c\n");
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message().find("line 2"), std::string::npos) << open.error().message();
  EXPECT_FALSE(ParseCsvRecords("\"a\"b,c\n"));
}

TEST(CsvIndicators, MapsPortalColumnsToApiBody) {
  std::string csv = std::string(kHeader) +
                    "FileSha256," + std::string(64, 'a') +
                    ",2030-01-01T00:00:00Z,Alert,High,Bad tool,\"Seen in \"\"ops\"\", twice\",Reimage,\"Linux, Lab\","
                    "Malware,T1059,TRUE\n"
                    "IpAddress,10.0.0.0/8,,Allowed,,Lab net,,,,,,\n";
  size_t too_many = 0;
  auto items = IndicatorsFromCsv(csv, &too_many);
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 2u);
  const json::Value& a = (*items)[0].body;
  EXPECT_EQ((*items)[0].shown, std::string(64, 'a'));
  EXPECT_EQ(a.GetString("indicatorType"), "FileSha256");
  EXPECT_EQ(a.GetString("expirationTime"), "2030-01-01T00:00:00Z");
  EXPECT_EQ(a.GetString("description"), "Seen in \"ops\", twice");
  EXPECT_EQ(a.GetBool("generateAlert"), true);
  ASSERT_TRUE(a.Find("rbacGroupNames"));
  EXPECT_EQ(a.Find("rbacGroupNames")->Serialize(), "[\"Linux\",\"Lab\"]");
  EXPECT_FALSE(a.Find("Category"));
  const json::Value& b = (*items)[1].body;
  EXPECT_EQ(b.GetString("action"), "Allowed");
  EXPECT_FALSE(b.Find("severity"));  // empty cells leave the API default
  EXPECT_EQ(b.GetString("description"), "");
}

TEST(CsvIndicators, BadRowsFailAloneBadHeadersFailAll) {
  size_t too_many = 0;
  auto items = IndicatorsFromCsv("IndicatorValue,IndicatorType,GenerateAlert\nx.example,DomainName,maybe\n"
                                 "y.example,DomainName\nz.example,DomainName,false\n",
                                 &too_many);
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 3u);
  EXPECT_NE((*items)[0].failure.find("GenerateAlert"), std::string::npos);
  EXPECT_NE((*items)[1].failure.find("2 fields"), std::string::npos) << (*items)[1].failure;
  EXPECT_TRUE((*items)[2].failure.empty());
  EXPECT_EQ((*items)[2].body.GetBool("generateAlert"), false);

  EXPECT_FALSE(IndicatorsFromCsv("", &too_many));
  EXPECT_FALSE(IndicatorsFromCsv("IndicatorType,Colour\nDomainName,red\n", &too_many));
  EXPECT_FALSE(IndicatorsFromCsv("IndicatorType,Title\nDomainName,t\n", &too_many));  // no IndicatorValue
  EXPECT_EQ(too_many, 0u);
}

TEST(CsvIndicators, MoreThan500RowsIsOneError) {
  std::string csv = "IndicatorType,IndicatorValue\n";
  for (int i = 0; i < 501; ++i) csv += "DomainName,d" + std::to_string(i) + ".example\n";
  size_t too_many = 0;
  EXPECT_FALSE(IndicatorsFromCsv(csv, &too_many));
  EXPECT_EQ(too_many, 501u);
}

TEST(StixPattern, SimpleFormsAndOrLists) {
  auto t = ParseStixPattern("[file:hashes.'SHA-256' = 'ab' OR file:hashes.MD5 = 'cd'] OR [ipv4-addr:value = '10.1.0.0/16']");
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].indicator_type, "FileSha256");
  EXPECT_EQ((*t)[1].indicator_type, "FileMd5");
  EXPECT_EQ((*t)[2].indicator_type, "IpAddress");
  EXPECT_EQ((*t)[2].value, "10.1.0.0/16");
  auto esc = ParseStixPattern("[url:value = 'http://x.example/it\\'s']");
  ASSERT_TRUE(esc);
  EXPECT_EQ((*esc)[0].value, "http://x.example/it's");
  EXPECT_EQ((*ParseStixPattern("[file:hashes.'SHA-1' = 'ef']"))[0].indicator_type, "FileSha1");
  EXPECT_EQ((*ParseStixPattern("[domain-name:value='evil.example']"))[0].indicator_type, "DomainName");
  EXPECT_EQ((*ParseStixPattern("[ipv6-addr:value = '::1']"))[0].indicator_type, "IpAddress");
}

TEST(StixPattern, RejectsWhatItCannotExpress) {
  EXPECT_FALSE(ParseStixPattern("[file:name = 'a.exe']"));
  EXPECT_FALSE(ParseStixPattern("[file:hashes.MD5 = 'a' AND file:name = 'b']"));
  EXPECT_FALSE(ParseStixPattern("[ipv4-addr:value != '1.2.3.4']"));
  EXPECT_FALSE(ParseStixPattern("[domain-name:value = 'a'] FOLLOWEDBY [domain-name:value = 'b']"));
  EXPECT_FALSE(ParseStixPattern("[domain-name:value = 'a'] WITHIN 5 SECONDS"));
  EXPECT_FALSE(ParseStixPattern("[url:value = 'unterminated]"));
}

TEST(StixBundle, IndicatorsBecomeBodies) {
  auto bundle = json::Value::Parse(R"({"type":"bundle","id":"bundle--1","objects":[
    {"type":"identity","id":"identity--1","name":"ACME"},
    {"type":"indicator","id":"indicator--a","name":"C2","description":"beacon","pattern_type":"stix",
     "valid_until":"2031-01-01T00:00:00Z",
     "pattern":"[domain-name:value = 'c2.example' OR url:value = 'http://c2.example/x']"},
    {"type":"indicator","id":"indicator--b","pattern_type":"sigma","pattern":"title: x"},
    {"type":"indicator","id":"indicator--c","pattern_type":"stix","pattern":"[process:name = 'x']"}]})");
  ASSERT_TRUE(bundle);
  size_t too_many = 0;
  auto items = IndicatorsFromStix(*bundle, &too_many);
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 4u);
  const json::Value& a = (*items)[0].body;
  EXPECT_EQ(a.GetString("indicatorType"), "DomainName");
  EXPECT_EQ(a.GetString("title"), "C2");
  EXPECT_EQ(a.GetString("description"), "beacon");
  EXPECT_EQ(a.GetString("action"), "Alert");
  EXPECT_EQ(a.GetBool("generateAlert"), true);
  EXPECT_EQ(a.GetString("expirationTime"), "2031-01-01T00:00:00Z");
  EXPECT_EQ(a.GetString("externalID"), "indicator--a");
  EXPECT_EQ((*items)[1].body.GetString("indicatorType"), "Url");
  EXPECT_EQ((*items)[2].shown, "indicator--b");
  EXPECT_NE((*items)[2].failure.find("sigma"), std::string::npos);
  EXPECT_NE((*items)[3].failure.find("process:name"), std::string::npos) << (*items)[3].failure;

  EXPECT_FALSE(IndicatorsFromStix(*json::Value::Parse(R"({"type":"indicator"})"), &too_many));
  EXPECT_FALSE(IndicatorsFromStix(*json::Value::Parse(R"({"type":"bundle","objects":[]})"), &too_many));
}

}  // namespace
}  // namespace ward::api
