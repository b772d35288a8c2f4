#pragma once
// Reads the reference files of the exactness tests (data/zil_graph/<case>.h5, written
// by tools/make_zil_graph_reference.py): numeric datasets as doubles with their shape,
// integer labels, the names in a group, root attributes. Header-only, over the HDF5
// helpers of sim/io/h5_util.hpp. Every failure throws a std::runtime_error (core::io_error
// from HDF5 calls) whose message starts with "<file>: <object>".
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/io/h5_util.hpp"

#ifndef PHASELESS_SOURCE_DIR
#error "PHASELESS_SOURCE_DIR must name the repository root (tests/CMakeLists.txt defines it)"
#endif

namespace phaseless::test {

// A dataset read as doubles, row-major (C order, as h5py and torch store it).
struct h5_array {
  std::vector<double> v;
  std::vector<std::size_t> shape;   // empty for a scalar
  std::size_t size() const { return v.size(); }
  double operator[](std::size_t i) const { return v[i]; }
};

// data/zil_graph/<name>.h5 and the model file of the same case, found through the
// repository root the tests are compiled with (as tests/models is).
inline std::filesystem::path zil_graph_reference(const std::string& name) {
  return std::filesystem::path(PHASELESS_SOURCE_DIR) / "data" / "zil_graph" / (name + ".h5");
}
inline std::filesystem::path zil_graph_model(const std::string& name) {
  return std::filesystem::path(PHASELESS_SOURCE_DIR) / "tests" / "models" / "good" / "zil_graph" /
         (name + ".textproto");
}

namespace h5ref_detail {

namespace h5 = phaseless::io::h5;

inline std::string where(const std::filesystem::path& path, const std::string& object) {
  return path.string() + ": " + object;
}

inline h5::handle open_file(const std::filesystem::path& path) {
  h5::quiet_errors();   // failures become exceptions, not stderr dumps
  const std::string w = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw std::runtime_error(w + ": no such file (regenerate: /usr/bin/python3 tools/make_zil_graph_reference.py)");
  h5::handle fapl = h5::file_access_plist(w);
  return h5::own(H5Fopen(w.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, w + ": cannot open as HDF5");
}

inline h5::handle open_dataset(hid_t file, const std::filesystem::path& path, const std::string& name) {
  if (H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0)
    throw std::runtime_error(where(path, name) + ": no such dataset");
  return h5::own(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose, where(path, name));
}

// A root attribute, opened with its type; `w` names it for error messages.
struct attribute {
  h5::handle file, attr, type;
  std::string w;
};
inline attribute open_attribute(const std::filesystem::path& path, const std::string& name) {
  attribute r{open_file(path), {}, {}, where(path, "attribute " + name)};
  if (H5Aexists(r.file.get(), name.c_str()) <= 0) throw std::runtime_error(r.w + ": no such attribute");
  r.attr = h5::own(H5Aopen(r.file.get(), name.c_str(), H5P_DEFAULT), H5Aclose, r.w);
  r.type = h5::own(H5Aget_type(r.attr.get()), H5Tclose, r.w);
  return r;
}

inline std::size_t element_count(const std::vector<hsize_t>& dims) {
  std::size_t n = 1;
  for (auto d : dims) n *= static_cast<std::size_t>(d);
  return n;
}

inline herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

}  // namespace h5ref_detail

// True if `name` (e.g. "labels", "targets", "params/w1") exists in the file.
inline bool has_object(const std::filesystem::path& path, const std::string& name) {
  using namespace h5ref_detail;
  h5::handle f = open_file(path);
  // H5Lexists checks one link at a time: every parent group must exist first.
  for (std::size_t at = name.find('/', 1); ; at = name.find('/', at + 1)) {
    const std::string prefix = name.substr(0, at);
    if (H5Lexists(f.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (at == std::string::npos) return true;
  }
}

// A numeric dataset (any integer or float type) converted to double.
inline h5_array read_array(const std::filesystem::path& path, const std::string& dataset) {
  using namespace h5ref_detail;
  h5::handle f = open_file(path);
  h5::handle d = open_dataset(f.get(), path, dataset);
  const std::string w = where(path, dataset);
  h5::handle t = h5::own(H5Dget_type(d.get()), H5Tclose, w);
  const H5T_class_t cls = H5Tget_class(t.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw std::runtime_error(w + ": type " + h5::type_name(t.get()) + " is not numeric");
  const std::vector<hsize_t> dims = h5::extent(d.get(), w);
  h5_array a;
  a.shape.assign(dims.begin(), dims.end());
  a.v.resize(element_count(dims));
  if (!a.v.empty()) h5::check(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.v.data()), w);
  return a;
}

// An integer dataset (the class labels: int64 in the reference files), 1-D.
inline std::vector<std::int64_t> read_labels(const std::filesystem::path& path,
                                             const std::string& dataset = "labels") {
  using namespace h5ref_detail;
  h5::handle f = open_file(path);
  h5::handle d = open_dataset(f.get(), path, dataset);
  const std::string w = where(path, dataset);
  h5::handle t = h5::own(H5Dget_type(d.get()), H5Tclose, w);
  if (H5Tget_class(t.get()) != H5T_INTEGER)
    throw std::runtime_error(w + ": type " + h5::type_name(t.get()) + " is not an integer type");
  const std::vector<hsize_t> dims = h5::extent(d.get(), w);
  if (dims.size() != 1) throw std::runtime_error(w + ": labels must be 1-D, rank is " + std::to_string(dims.size()));
  std::vector<std::int64_t> out(element_count(dims));
  if (!out.empty()) h5::check(H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), w);
  return out;
}

// The names of a group's members (e.g. "params": "h1.bias", "w1", ...), in name order.
inline std::vector<std::string> list_group(const std::filesystem::path& path, const std::string& group) {
  using namespace h5ref_detail;
  h5::handle f = open_file(path);
  const std::string w = where(path, group);
  if (group != "/" && H5Lexists(f.get(), group.c_str(), H5P_DEFAULT) <= 0)
    throw std::runtime_error(w + ": no such group");
  h5::handle g = h5::own(H5Gopen2(f.get(), group.c_str(), H5P_DEFAULT), H5Gclose, w);
  std::vector<std::string> names;
  hsize_t idx = 0;
  h5::check(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names), w);
  return names;
}

// A numeric scalar attribute of the root group ("lr", "loss", "batch_size").
inline double read_attr(const std::filesystem::path& path, const std::string& name) {
  using namespace h5ref_detail;
  const auto [f, a, t, w] = open_attribute(path, name);
  const H5T_class_t cls = H5Tget_class(t.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw std::runtime_error(w + ": type " + h5::type_name(t.get()) + " is not numeric");
  h5::handle space = h5::own(H5Aget_space(a.get()), H5Sclose, w);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw std::runtime_error(w + ": not a scalar");
  double x = 0;
  h5::check(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &x), w);
  return x;
}

// A string attribute of the root group ("case", "loss_kind", "model", "generator").
inline std::string read_string_attr(const std::filesystem::path& path, const std::string& name) {
  using namespace h5ref_detail;
  const auto [f, a, t, w] = open_attribute(path, name);
  if (H5Tget_class(t.get()) != H5T_STRING) throw std::runtime_error(w + ": not a string");
  h5::handle mt = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, w);
  h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), w);   // HDF5 does not convert character sets
  if (H5Tis_variable_str(t.get()) > 0) {
    h5::check(H5Tset_size(mt.get(), H5T_VARIABLE), w);
    char* p = nullptr;
    h5::check(H5Aread(a.get(), mt.get(), &p), w);
    std::string out = p != nullptr ? p : "";
    H5free_memory(p);
    return out;
  }
  const std::size_t size = H5Tget_size(t.get());
  h5::check(H5Tset_size(mt.get(), size + 1), w);   // +1: room for the terminator
  std::string buf(size + 1, '\0');
  h5::check(H5Aread(a.get(), mt.get(), buf.data()), w);
  return buf.c_str();
}

}  // namespace phaseless::test
