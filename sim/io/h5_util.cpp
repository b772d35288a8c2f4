// HDF5 helpers: error stack to text, shared property lists, type names.
#include "sim/io/h5_util.hpp"

#include "sim/core/errors.hpp"

#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace phaseless::io::h5 {

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
// HDF5 registers an exit handler that closes what is still open. A file whose close
// failed (disk full, file size limit) stays half-closed, and that handler then crashes
// (SIGSEGV after a clean error message). Every file is closed explicitly here, and a
// failed close is reported where it happens, so the handler has nothing left to do:
// turn it off. It must run before the library's first call, hence a static initializer.
const bool no_exit_handler = (H5dont_atexit(), true);
}  // namespace

namespace {

// Collects each record's description; H5E_WALK_DOWNWARD starts at the API function
// and ends at the deepest cause (for I/O errors that one carries errno's text).
herr_t collect(unsigned, const H5E_error2_t* err, void* data) {
  auto* lines = static_cast<std::vector<std::string>*>(data);
  if (err->desc != nullptr && err->desc[0] != '\0') lines->emplace_back(err->desc);
  return 0;
}

}  // namespace

std::string error_text() {
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &lines);
  if (lines.empty()) return "HDF5 reported no details";
  // The outermost says what failed, the innermost why; the middle is library plumbing.
  std::string why = lines.back();
  // System-call failures carry a long dump (time, buffer address, sizes); the
  // strerror text inside it is what a user can act on ("No space left on device").
  const std::string tag = "error message = '";
  if (const auto at = why.find(tag); at != std::string::npos) {
    const auto from = at + tag.size();
    why = why.substr(from, why.find('\'', from) - from);
  }
  if (lines.size() == 1) return why;
  return lines.front() + " (" + why + ")";
}

void fail(const std::string& where) { throw core::io_error(where + ": " + error_text()); }

handle file_access_plist(const std::string& where) {
  handle fapl = own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, where);
  // ignore_when_disabled = true: still works on file systems without flock support.
  check(H5Pset_file_locking(fapl.get(), false, true), where);
  return fapl;
}

std::string type_name(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "i").append(std::to_string(bits));
    case H5T_FLOAT: return std::string("f").append(std::to_string(bits));
    case H5T_STRING: return "str";
    default: return "other";
  }
}

std::vector<hsize_t> extent(hid_t dataset, const std::string& where) {
  handle space = own(H5Dget_space(dataset), H5Sclose, where);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) fail(where);
  return dims;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

std::size_t checked_count(const std::vector<hsize_t>& dims, std::size_t elem_size, const std::string& where) {
  std::uint64_t n = 1, bytes = 0;
  for (hsize_t d : dims)
    if (__builtin_mul_overflow(n, std::uint64_t{d}, &n))
      throw core::user_error(where + ": shape " + shape_text(dims) + " has more than 2^64 elements");
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t memory = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : 0;
  if (__builtin_mul_overflow(n, std::uint64_t{elem_size}, &bytes) || (memory > 0 && bytes > memory))
    throw core::user_error(where + ": shape " + shape_text(dims) + " (" + std::to_string(n) +
                           " elements) does not fit in this machine's memory (" +
                           std::to_string(memory >> 20) + " MiB)");
  return static_cast<std::size_t>(n);
}

}  // namespace phaseless::io::h5
