// HDF5 helpers: error stack to text, shared property lists, type names.
#include "sim/io/h5_util.hpp"

#include "sim/core/errors.hpp"

#include <stdexcept>

namespace phaseless::io::h5 {

void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

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

}  // namespace phaseless::io::h5
