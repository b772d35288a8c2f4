// Shared checks and conversions of the array data sources (npy, hdf5, cifar10).
#include "sim/io/array_data.hpp"

#include <algorithm>
#include <array>

#include <unistd.h>

#include "sim/core/errors.hpp"

namespace phaseless::io {

const char* type_name(elem_type t) {
  static constexpr std::array<const char*, 10> names{"uint8",  "int8",   "uint16", "int16",   "uint32",
                                                     "int32",  "uint64", "int64",  "float32", "float64"};
  return names[static_cast<std::size_t>(t)];
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

std::string array_ref::where() const {
  std::string s = field;
  s.append(": ").append(file.string());
  if (!dataset.empty()) s.append(" dataset '").append(dataset).append("'");
  return s;
}

namespace {
bool is_float(elem_type t) { return t == elem_type::f32 || t == elem_type::f64; }
}  // namespace

std::uint64_t checked_elements(const array_ref& a, const std::vector<std::uint64_t>& shape, std::size_t bytes_each) {
  std::uint64_t n = 1;
  for (auto d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw core::user_error(a.where() + ": shape " + shape_text(shape) + " has more elements than 2^64");
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t memory = pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : ~std::uint64_t{0};
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(n, std::uint64_t(bytes_each), &bytes) || bytes > memory)
    throw core::user_error(a.where() + ": shape " + shape_text(shape) + " needs more memory than this machine has (" +
                           std::to_string(memory >> 20) + " MiB); allowed: a smaller array, or data.train_subset");
  return n;
}

std::uint64_t check_pair(const array_ref& images, const array_info& ii, const array_ref& labels,
                         const array_info& li) {
  if (ii.shape.size() < 2)
    throw core::user_error(images.where() + ": images have shape " + shape_text(ii.shape) +
                           "; allowed: (samples, ...) with at least 2 dimensions, e.g. (N, 28, 28)");
  if (ii.type != elem_type::u8 && !is_float(ii.type))
    throw core::user_error(images.where() + ": images have dtype " + type_name(ii.type) +
                           "; allowed: uint8, float32, float64");
  if (li.shape.size() != 1)
    throw core::user_error(labels.where() + ": labels have shape " + shape_text(li.shape) +
                           "; allowed: (samples,), one integer per sample");
  if (is_float(li.type))
    throw core::user_error(labels.where() + ": labels have dtype " + type_name(li.type) +
                           "; allowed: an integer dtype (uint8, int32, int64, ...)");
  if (li.shape[0] != ii.shape[0])
    throw core::user_error(labels.where() + ": holds " + std::to_string(li.shape[0]) + " labels but " +
                           images.field + " holds " + std::to_string(ii.shape[0]) + " images; allowed: equal counts");
  return ii.shape[0];
}

raw_arrays sized_pair(const array_ref& images, const array_info& ii, const array_ref& labels, const array_info& li,
                      std::size_t limit) {
  const std::uint64_t n = check_pair(images, ii, labels, li);
  if (limit > n)
    throw core::user_error(images.where() + ": holds " + std::to_string(n) + " samples, fewer than the " +
                           std::to_string(limit) + " asked for");
  raw_arrays r;
  r.rows = limit == 0 ? n : limit;
  r.cols = 1;
  for (std::size_t i = 1; i < ii.shape.size(); ++i) r.cols *= ii.shape[i];
  return r;
}

core::dataset to_dataset(raw_arrays&& r, double pixel_scale, double pixel_offset, const array_ref& labels) {
  core::dataset ds;
  ds.rows = r.rows;
  ds.cols = r.cols;
  if (!r.floats.empty() || r.bytes.empty()) {
    ds.x = std::move(r.floats);
  } else {
    // One value per byte (as IDX: float scale, then float offset): equal bytes, equal floats.
    std::array<float, 256> table{};
    for (std::size_t b = 0; b < table.size(); ++b)
      table[b] = static_cast<float>(static_cast<double>(b) * pixel_scale) + static_cast<float>(pixel_offset);
    ds.x.resize(r.bytes.size());
    std::transform(r.bytes.begin(), r.bytes.end(), ds.x.begin(), [&](std::uint8_t b) { return table[b]; });
  }
  ds.labels.resize(r.labels.size());
  for (std::size_t i = 0; i < r.labels.size(); ++i) {
    const std::int64_t v = r.labels[i];
    if (v < 0 || v > 255)
      throw core::user_error(labels.where() + ": label " + std::to_string(v) + " at row " + std::to_string(i) +
                             " is out of range; allowed: 0 to 255 (class ids)");
    ds.labels[i] = static_cast<std::uint8_t>(v);
  }
  ds.classes = ds.labels.empty() ? 0 : std::size_t{*std::max_element(ds.labels.begin(), ds.labels.end())} + 1;
  return ds;
}

}  // namespace phaseless::io
