// Image/label arrays stored as HDF5 datasets (e.g. written with h5py).
#include "sim/core/errors.hpp"
#include "sim/io/array_data.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/isolated_read.hpp"

namespace phaseless::io {
namespace {

[[noreturn]] void fail(const array_ref& a, const std::string& what) { throw core::user_error(a.where() + ": " + what); }

h5::handle open_file(const array_ref& a) {
  h5::quiet_errors();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(a.file, ec))
    throw core::user_error(a.field + ": file not found: " + a.file.string() +
                           " (relative paths resolve against the model's folder)");
  if (H5Fis_hdf5(a.file.c_str()) <= 0) throw core::user_error(a.field + ": " + a.file.string() + ": not an HDF5 file");
  require_decodable(a.file.string(), a.where());
  h5::handle fapl = h5::file_access_plist(a.where());
  const hid_t id = H5Fopen(a.file.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) fail(a, "cannot open: " + h5::error_text());
  return {id, H5Fclose};
}

h5::handle open_dataset(const array_ref& a, hid_t f) {
  if (a.dataset.empty())
    throw core::user_error(a.field + ": missing; allowed: the path of a dataset in " + a.file.string() +
                           ", e.g. \"train/images\"");
  H5O_info_t info{};
  if (H5Oexists_by_name(f, a.dataset.c_str(), H5P_DEFAULT) <= 0 ||
      H5Oget_info_by_name2(f, a.dataset.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    fail(a, "the file has no such dataset");
  if (info.type != H5O_TYPE_DATASET) fail(a, "is a group, not a dataset");
  return h5::own(H5Dopen2(f, a.dataset.c_str(), H5P_DEFAULT), H5Dclose, a.where());
}

elem_type type_of(const array_ref& a, hid_t ds) {
  h5::handle t = h5::own(H5Dget_type(ds), H5Tclose, a.where());
  const H5T_class_t cls = H5Tget_class(t.get());
  const std::size_t size = H5Tget_size(t.get());
  if (cls == H5T_FLOAT && (size == 4 || size == 8)) return size == 4 ? elem_type::f32 : elem_type::f64;
  if (cls == H5T_INTEGER && size <= 8) {
    const bool u = H5Tget_sign(t.get()) == H5T_SGN_NONE;
    switch (size) {
      case 1: return u ? elem_type::u8 : elem_type::i8;
      case 2: return u ? elem_type::u16 : elem_type::i16;
      case 4: return u ? elem_type::u32 : elem_type::i32;
      default: return u ? elem_type::u64 : elem_type::i64;
    }
  }
  fail(a, "has type " + h5::type_name(t.get()) + "; allowed: uint8, float32, float64 (images), an integer type (labels)");
}

array_info info_of(const array_ref& a, hid_t ds) {
  array_info info;
  info.type = type_of(a, ds);
  for (hsize_t d : h5::extent(ds, a.where())) info.shape.push_back(d);
  // As loaded: floats (4 bytes) for float images, 8-byte labels; a lying extent fails here.
  checked_elements(a, info.shape, 8);
  return info;
}

// Reads the first `rows` rows (all trailing dimensions) converted to `mem_type`.
template <class T>
void read_rows(const array_ref& a, hid_t ds, const array_info& info, std::size_t rows, hid_t mem_type,
               std::vector<T>& out) {
  std::vector<hsize_t> start(info.shape.size(), 0), count(info.shape.begin(), info.shape.end());
  count[0] = rows;
  std::size_t n = 1;
  for (hsize_t c : count) n *= c;
  out.resize(n);
  if (n == 0) return;
  h5::handle file_space = h5::own(H5Dget_space(ds), H5Sclose, a.where());
  h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
            a.where());
  h5::handle mem_space = h5::own(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose, a.where());
  if (H5Dread(ds, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()) < 0)
    fail(a, "read error: " + h5::error_text());
}

std::vector<std::int64_t> labels_of(const array_ref& labels, hid_t dl, const array_info& li, std::size_t rows) {
  std::vector<std::int64_t> out;
  if (li.type == elem_type::u64) {   // above 2^63 must not wrap to a small label
    std::vector<std::uint64_t> u;
    read_rows(labels, dl, li, rows, H5T_NATIVE_UINT64, u);
    for (auto v : u) out.push_back(v > 255 ? 256 : std::int64_t(v));
  } else {
    read_rows(labels, dl, li, rows, H5T_NATIVE_INT64, out);
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> read_hdf5_labels(const array_ref& labels, const array_info& li, std::size_t rows) {
  h5::handle f = open_file(labels);
  h5::handle ds = open_dataset(labels, f.get());
  return labels_of(labels, ds.get(), li, rows);
}

array_info read_hdf5_info(const array_ref& a) {
  h5::handle f = open_file(a);
  h5::handle ds = open_dataset(a, f.get());
  return info_of(a, ds.get());
}

raw_arrays load_hdf5_pair(const array_ref& images, const array_ref& labels, std::size_t limit) {
  h5::handle fi = open_file(images);
  h5::handle di = open_dataset(images, fi.get());
  h5::handle fl = open_file(labels);
  h5::handle dl = open_dataset(labels, fl.get());
  const array_info ii = info_of(images, di.get()), li = info_of(labels, dl.get());
  raw_arrays r = sized_pair(images, ii, labels, li, limit);
  if (ii.type == elem_type::u8) read_rows(images, di.get(), ii, r.rows, H5T_NATIVE_UINT8, r.bytes);
  else read_rows(images, di.get(), ii, r.rows, H5T_NATIVE_FLOAT, r.floats);
  r.labels = labels_of(labels, dl.get(), li, r.rows);
  return r;
}

}  // namespace phaseless::io
