#include "stream/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "common/time.h"

namespace ward::stream {

namespace {
namespace fs = std::filesystem;

struct FileSettings {
  std::string directory;
  int64_t max_file_bytes = 64ll << 20;
  int64_t max_files = 0;
};

Result<FileSettings> Parse(const json::Value& v) {
  SettingsReader r(v);
  FileSettings s;
  WARD_ASSIGN_OR_RETURN(std::string name, r.String("name", false));
  WARD_ASSIGN_OR_RETURN(s.directory, r.String("directory", false, name));
  if (s.directory.empty() || s.directory == "." || s.directory == ".." ||
      s.directory.find_first_of("/\\") != std::string::npos || s.directory.size() > 128) {
    return Err(InvalidArgument("directory must be a plain name (no '/'), made under the server's streaming/files"));
  }
  WARD_ASSIGN_OR_RETURN(s.max_file_bytes, r.Int("maxFileBytes", s.max_file_bytes, 4096, 1ll << 40));
  WARD_ASSIGN_OR_RETURN(s.max_files, r.Int("maxFiles", 0, 0, 100000));
  return s;
}

Status Errno(const std::string& what, const std::string& path) {
  return Unavailable(what + " " + path + ": " + std::strerror(errno));
}

class FileSink final : public Sink {
 public:
  FileSink(FileSettings settings, std::string dir) : settings_(std::move(settings)), dir_(std::move(dir)) {}
  ~FileSink() override {
    for (auto& [table, f] : files_) ::close(f.fd);
  }

  Status Deliver(std::span<const StreamRecord> records, std::vector<Rejection>* rejected) override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return Unavailable("creating " + dir_ + ": " + ec.message());
    std::map<std::string_view, std::string> lines;  // per table, in order
    for (const StreamRecord& r : records) {
      std::string& out = lines[r.table_name];
      out += r.json;
      out += '\n';
    }
    for (auto& [table, text] : lines) {
      WARD_ASSIGN_OR_RETURN(OpenFile * f, Open(std::string(table)));
      size_t done = 0;
      while (done < text.size()) {
        ssize_t n = ::write(f->fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          Status st = Errno("writing", f->path);
          Close(std::string(table));  // reopened next time; a partial line is followed by whole ones
          return st;
        }
        done += static_cast<size_t>(n);
      }
      if (::fdatasync(f->fd) != 0) return Errno("syncing", f->path);
      f->size += static_cast<int64_t>(text.size());
      if (f->size >= settings_.max_file_bytes) WARD_RETURN_IF_ERROR(Rotate(std::string(table)));
    }
    return Status::Ok();
  }

 private:
  struct OpenFile {
    int fd = -1;
    std::string path;
    int64_t size = 0;
  };

  Result<OpenFile*> Open(const std::string& table) {
    auto it = files_.find(table);
    if (it != files_.end()) return &it->second;
    OpenFile f;
    f.path = dir_ + "/" + table + ".ndjson";
    f.fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (f.fd < 0) return Err(Errno("opening", f.path));
    f.size = ::lseek(f.fd, 0, SEEK_END);
    return &files_.emplace(table, f).first->second;
  }

  void Close(const std::string& table) {
    auto it = files_.find(table);
    if (it == files_.end()) return;
    ::close(it->second.fd);
    files_.erase(it);
  }

  Status Rotate(const std::string& table) {
    std::string current = files_[table].path;
    Close(table);
    std::string stamp = FormatIsoTicks(NowTicks());  // 2024-05-17T13:04:05.1234567Z
    stamp.erase(std::remove_if(stamp.begin(), stamp.end(), [](char c) { return c == '-' || c == ':'; }), stamp.end());
    stamp = stamp.substr(0, 15);  // 20240517T130405
    std::string rotated;
    for (int n = 0;; ++n) {
      rotated = dir_ + "/" + table + "-" + stamp + "-" + std::to_string(n) + ".ndjson";
      if (!fs::exists(rotated)) break;
    }
    std::error_code ec;
    fs::rename(current, rotated, ec);
    if (ec) return Unavailable("rotating " + current + ": " + ec.message());
    if (settings_.max_files > 0) {
      std::vector<std::string> old;
      for (const auto& e : fs::directory_iterator(dir_, ec)) {
        std::string n = e.path().filename().string();
        if (n.rfind(table + "-", 0) == 0 && n.size() > 7 && n.ends_with(".ndjson")) old.push_back(e.path().string());
      }
      std::sort(old.begin(), old.end());  // the stamp sorts by time
      for (size_t i = 0; i + settings_.max_files < old.size(); ++i) fs::remove(old[i], ec);
    }
    return Status::Ok();
  }

  FileSettings settings_;
  std::string dir_;
  std::map<std::string, OpenFile> files_;
};

Status Validate(const json::Value& v) {
  auto parsed = Parse(v);
  return parsed ? Status::Ok() : parsed.error();
}

Result<std::unique_ptr<Sink>> Make(const json::Value& v, const SinkContext& context) {
  WARD_ASSIGN_OR_RETURN(FileSettings s, Parse(v));
  std::string dir = context.files_dir + "/" + s.directory;
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(std::move(s), std::move(dir)));
}
}  // namespace

const DestinationType& FileDestination() {
  static const DestinationType type{"File", {}, &Validate, &Make};
  return type;
}

}  // namespace ward::stream
