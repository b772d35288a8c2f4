// Limits and file-kind checks shared by the model loader, the validator and the IDX reader.
#include "sim/io/model_limits.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace phaseless::io {

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : std::uint64_t{1} << 32;
}

std::string special_file_kind(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return "";
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISFIFO(st.st_mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

std::string bytes_text(std::uint64_t b) {
  static const char* unit[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  double x = double(b);
  int u = 0;
  while (x >= 1000 && u < 6) x /= 1000, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(b));
  else std::snprintf(buf, sizeof buf, x < 10 ? "%.1f %s" : "%.0f %s", x, unit[u]);
  return buf;
}

}  // namespace phaseless::io
