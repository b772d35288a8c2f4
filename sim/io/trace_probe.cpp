// probe_variable_length: reads every variable-length string of a file once, in the child
// that run_isolated gives it (see isolated_read.hpp for why).
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/isolated_read.hpp"
#include "sim/io/trace_reader_detail.hpp"

namespace phaseless::io {
namespace {

bool is_variable_string(hid_t type) { return H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0; }

// Reads a variable-length string attribute or dataset whole, then frees what HDF5 allocated.
// The memory type keeps the stored character set: HDF5 will not convert between ASCII and
// UTF-8, and a read refused before decoding would probe nothing.
template <class Read>
void read_strings(hid_t space, hid_t type, Read read) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n <= 0 || n > (1 << 24)) return;   // nothing to decode, or a shape no trace has
  std::vector<char*> values(static_cast<std::size_t>(n), nullptr);
  h5::handle mem = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, "probe");
  H5Tset_size(mem.get(), H5T_VARIABLE);
  H5Tset_cset(mem.get(), H5Tget_cset(type));
  if (read(mem.get(), values.data()) >= 0) H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, values.data());
}

herr_t probe_attribute(hid_t object, const char* name, const H5A_info_t*, void*) {
  const hid_t a = H5Aopen(object, name, H5P_DEFAULT);
  if (a < 0) return 0;
  h5::handle attr(a, H5Aclose);
  h5::handle type(H5Aget_type(a), H5Tclose), space(H5Aget_space(a), H5Sclose);
  if (type.valid() && space.valid() && is_variable_string(type.get()))
    read_strings(space.get(), type.get(), [&](hid_t mem, char** out) { return H5Aread(a, mem, out); });
  return 0;
}

herr_t probe_object(hid_t root, const char* name, const H5O_info_t* info, void*) {
  const hid_t o = H5Oopen(root, name, H5P_DEFAULT);
  if (o < 0) return 0;
  h5::handle object(o, H5Oclose);
  H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, probe_attribute, nullptr);
  if (info->type != H5O_TYPE_DATASET) return 0;
  h5::handle type(H5Dget_type(o), H5Tclose), space(H5Dget_space(o), H5Sclose);
  if (type.valid() && space.valid() && is_variable_string(type.get()))
    read_strings(space.get(), type.get(), [&](hid_t mem, char** out) {
      return H5Dread(o, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    });
  return 0;
}

}  // namespace

int probe_variable_length(const std::string& file) {
  try {
    h5::handle f = trace_detail::open_trace(file);
    if (H5Ovisit(f.get(), H5_INDEX_NAME, H5_ITER_NATIVE, probe_object, nullptr) < 0) return 2;
    return 0;
  } catch (const std::exception&) {
    return 2;
  }
}

namespace {
std::vector<std::string>& probe_program() {
  static std::vector<std::string> argv;
  return argv;
}
}  // namespace

void set_probe_program(std::vector<std::string> argv) { probe_program() = std::move(argv); }

void require_decodable(const std::string& file, const std::string& what, double stall_seconds) {
  isolated_outcome o;
  if (probe_program().empty()) {
    o = run_isolated([&file] { return probe_variable_length(file); }, stall_seconds);
  } else {
    std::vector<std::string> argv = probe_program();
    argv.push_back(file);
    o = spawn_watched(argv, stall_seconds);
    if (o.how == isolated_outcome::not_isolated) o = run_isolated([&file] { return probe_variable_length(file); }, stall_seconds);
  }
  // The probe exits 0 (read) or 2 (a clean read error, left to the reader's own message).
  // Any other status is a failure inside the library that a sanitizer or the runtime
  // turned into an exit (AddressSanitizer exits 1 where a plain build gets SIGSEGV).
  const bool failed = o.how == isolated_outcome::crashed || o.how == isolated_outcome::stalled ||
                      (o.how == isolated_outcome::exited && o.code != 0 && o.code != 2);
  if (failed) throw core::user_error(what + ": the HDF5 library " + o.what() + " while reading it: the file is damaged");
}

}  // namespace phaseless::io
