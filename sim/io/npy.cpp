// NumPy .npy files: a 6-byte magic "\x93NUMPY", a version (1.0: 2-byte header length;
// 2.0/3.0: 4-byte), then a Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (N, 28, 28), } padded with spaces, then the raw array. Parsed here directly:
// the format is small and documented (numpy.lib.format).
#include <cstring>
#include <fstream>

#include "sim/core/errors.hpp"
#include "sim/io/array_data.hpp"

namespace phaseless::io {
namespace {

[[noreturn]] void fail(const array_ref& a, const std::string& what) { throw core::user_error(a.where() + ": " + what); }

std::size_t item_size(elem_type t) {
  switch (t) {
    case elem_type::u8: case elem_type::i8: return 1;
    case elem_type::u16: case elem_type::i16: return 2;
    case elem_type::u32: case elem_type::i32: case elem_type::f32: return 4;
    default: return 8;
  }
}

// The value of 'key' in the header dict, up to the next top-level ',' or '}'.
std::string dict_value(const array_ref& a, const std::string& header, const std::string& key) {
  const auto k = header.find("'" + key + "'");
  if (k == std::string::npos) fail(a, "not a valid .npy header: no '" + key + "' entry");
  auto v = header.find(':', k);
  if (v == std::string::npos) fail(a, "not a valid .npy header near '" + key + "'");
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  const auto end = header[v] == '(' ? header.find(')', v) + 1 : header.find_first_of(",}", v);
  if (end == std::string::npos || end == 0) fail(a, "not a valid .npy header near '" + key + "'");
  return header.substr(v, end - v);
}

elem_type parse_descr(const array_ref& a, std::string d) {
  if (d.size() < 4 || d.front() != '\'' || d.back() != '\'')
    fail(a, "dtype " + d + " is not supported; allowed: uint8, float32, float64, or integer labels");
  d = d.substr(1, d.size() - 2);
  if (d[0] == '>') fail(a, "dtype " + d + " is big-endian; allowed: little-endian (numpy's default on x86)");
  const std::string code = d.substr(1);
  static const std::pair<const char*, elem_type> known[] = {
      {"u1", elem_type::u8},  {"i1", elem_type::i8},  {"u2", elem_type::u16}, {"i2", elem_type::i16},
      {"u4", elem_type::u32}, {"i4", elem_type::i32}, {"u8", elem_type::u64}, {"i8", elem_type::i64},
      {"f4", elem_type::f32}, {"f8", elem_type::f64}};
  for (const auto& [c, t] : known)
    if (code == c) return t;
  fail(a, "dtype '" + d + "' is not supported; allowed: uint8, float32, float64 (images), an integer dtype (labels)");
}

std::vector<std::uint64_t> parse_shape(const array_ref& a, const std::string& s) {
  std::vector<std::uint64_t> shape;
  std::size_t i = 1;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size() || s[i] == ')') break;
    std::uint64_t v = 0;
    if (s[i] < '0' || s[i] > '9') fail(a, "not a valid .npy shape " + s);
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (std::uint64_t{1} << 40)) fail(a, "shape " + s + " is too large");
      v = v * 10 + std::uint64_t(s[i++] - '0');
    }
    shape.push_back(v);
  }
  return shape;
}

}  // namespace

array_info read_npy_info(const array_ref& a) {
  std::ifstream in(a.file, std::ios::binary);
  if (!in) fail(a, "cannot open the file (does it exist?)");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    fail(a, "not a NumPy .npy file (no \\x93NUMPY magic); save arrays with numpy.save");
  const int major = static_cast<unsigned char>(magic[6]);
  if (major < 1 || major > 3) fail(a, ".npy format version " + std::to_string(major) + " is not supported; allowed: 1 to 3");
  unsigned char len[4] = {};
  in.read(reinterpret_cast<char*>(len), major == 1 ? 2 : 4);
  const std::uint64_t hlen = major == 1 ? len[0] | (len[1] << 8)
                                        : len[0] | (len[1] << 8) | (len[2] << 16) | (std::uint64_t(len[3]) << 24);
  if (!in || hlen > (1u << 20)) fail(a, "truncated or invalid .npy header");
  std::string header(hlen, '\0');
  in.read(header.data(), static_cast<std::streamsize>(hlen));
  if (!in) fail(a, "truncated .npy header");
  array_info info;
  info.type = parse_descr(a, dict_value(a, header, "descr"));
  if (dict_value(a, header, "fortran_order") != "False")
    fail(a, "the array is in Fortran order; allowed: C order (save numpy.ascontiguousarray(x))");
  info.shape = parse_shape(a, dict_value(a, header, "shape"));
  info.data_offset = (major == 1 ? 10 : 12) + hlen;
  const std::uint64_t n = checked_elements(a, info.shape, item_size(info.type));
  const std::uint64_t want = info.data_offset + n * item_size(info.type);   // no overflow: checked above
  in.seekg(0, std::ios::end);
  const auto have = static_cast<std::uint64_t>(in.tellg());
  if (have < want)
    fail(a, "truncated: shape " + shape_text(info.shape) + " of " + type_name(info.type) + " needs " +
                std::to_string(want) + " bytes, the file has " + std::to_string(have));
  return info;
}

namespace {

template <class T>
void read_values(std::ifstream& in, std::size_t n, std::vector<T>& out) {
  out.resize(n);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

// Reads n elements of type t at the stream's position, converted to Out.
template <class Out>
void read_as(std::ifstream& in, elem_type t, std::size_t n, std::vector<Out>& out) {
  auto conv = [&](auto tag) {
    std::vector<decltype(tag)> v;
    read_values(in, n, v);
    out.assign(v.begin(), v.end());
  };
  switch (t) {
    case elem_type::u8: conv(std::uint8_t{}); break;
    case elem_type::i8: conv(std::int8_t{}); break;
    case elem_type::u16: conv(std::uint16_t{}); break;
    case elem_type::i16: conv(std::int16_t{}); break;
    case elem_type::u32: conv(std::uint32_t{}); break;
    case elem_type::i32: conv(std::int32_t{}); break;
    case elem_type::u64: conv(std::uint64_t{}); break;
    case elem_type::i64: conv(std::int64_t{}); break;
    case elem_type::f32: conv(float{}); break;
    case elem_type::f64: conv(double{}); break;
  }
}

}  // namespace

std::vector<std::int64_t> read_npy_labels(const array_ref& labels, const array_info& li, std::size_t rows) {
  std::vector<std::int64_t> out;
  std::ifstream lab(labels.file, std::ios::binary);
  lab.seekg(static_cast<std::streamoff>(li.data_offset));
  if (li.type == elem_type::u64) {   // above 2^63 must not wrap to a small label
    std::vector<std::uint64_t> u;
    read_values(lab, rows, u);
    for (auto v : u) out.push_back(v > 255 ? 256 : std::int64_t(v));
  } else {
    read_as(lab, li.type, rows, out);
  }
  if (!lab) fail(labels, "read error");
  return out;
}

raw_arrays load_npy_pair(const array_ref& images, const array_ref& labels, std::size_t limit) {
  const array_info ii = read_npy_info(images), li = read_npy_info(labels);
  raw_arrays r = sized_pair(images, ii, labels, li, limit);
  std::ifstream img(images.file, std::ios::binary);
  img.seekg(static_cast<std::streamoff>(ii.data_offset));
  if (ii.type == elem_type::u8) read_values(img, r.rows * r.cols, r.bytes);
  else read_as(img, ii.type, r.rows * r.cols, r.floats);
  if (!img) fail(images, "read error");
  r.labels = read_npy_labels(labels, li, r.rows);
  return r;
}

}  // namespace phaseless::io
