#pragma once
// Small RAII and error helpers over the HDF5 C API, shared by the trace writer, the trace
// readers and the HDF5 data source. The only header that includes <hdf5.h>.
#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

namespace phaseless::io::h5 {

// Owns one hid_t and closes it with the matching H5?close function.
class handle {
 public:
  using closer = herr_t (*)(hid_t);
  handle() = default;
  handle(hid_t id, closer close) noexcept : id_(id), close_(close) {}
  handle(handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  handle& operator=(handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  ~handle() { reset(); }

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  // Returns the close status: closing a dataset or the file writes cached data, so
  // callers on the close path must be able to see a failure (e.g. disk full).
  herr_t reset() noexcept {
    herr_t r = 0;
    if (id_ >= 0 && close_ != nullptr) r = close_(std::exchange(id_, H5I_INVALID_HID));
    id_ = H5I_INVALID_HID;
    return r;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  closer close_ = nullptr;
};

// Stops HDF5 from printing its error stack to stderr: failures become exceptions instead.
void quiet_errors();

// Text of HDF5's current error stack, most specific cause last ("" when empty). Must be
// called right after the failing call: the next API call clears the stack.
std::string error_text();

// Throws std::runtime_error("<where>: <error_text()>").
[[noreturn]] void fail(const std::string& where);

inline hid_t check(hid_t id, const std::string& where) {
  if (id < 0) fail(where);
  return id;
}
inline handle own(hid_t id, handle::closer close, const std::string& where) {
  check(id, where);
  return {id, close};
}

// Property-list settings both sides need: file locking off, so a trace can be read by
// `phaseless inspect`, h5py or h5dump while the run is still writing it.
handle file_access_plist(const std::string& where);

// Short type name for summaries: "u64", "i32", "f32", "str", ...
std::string type_name(hid_t type);

// Current extent of a dataset; empty for a scalar.
std::vector<hsize_t> extent(hid_t dataset, const std::string& where);

// Number of elements of a dataspace with these dims, checked: throws core::user_error
// "<where>: shape [..] ..." when the product overflows 64 bits or the elements
// (elem_size bytes each) would not fit in this machine's memory. Readers call it before
// sizing any buffer from a file's shape.
std::size_t checked_count(const std::vector<hsize_t>& dims, std::size_t elem_size, const std::string& where);

// "[3, 4]", or "scalar" for no dims.
std::string shape_text(const std::vector<hsize_t>& dims);

}  // namespace phaseless::io::h5
