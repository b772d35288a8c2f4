// IDX reader. zlib's gz* interface reads plain and gzip files through one code path,
// so the parser below never needs to know which it has. The data part is streamed in
// pieces into arrays that grow only as bytes actually arrive: a header that lies about
// its size fails as "truncated" instead of forcing a huge allocation.
#include "sim/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

#include "sim/core/errors.hpp"
#include "sim/io/model_limits.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace phaseless::io {
namespace {

constexpr std::uint8_t ubyte_type = 0x08;
constexpr std::size_t max_dims = 4;
// gzread takes an unsigned int count, so large reads are split into calls of this size.
constexpr std::size_t chunk_bytes = std::size_t{16} << 20;
// Pieces converted to floats while still in cache.
constexpr std::size_t piece_bytes = std::size_t{1} << 20;
constexpr std::size_t max_reserve_bytes = std::size_t{1} << 30;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw core::user_error(file.string() + ": " + what);
}

std::string hex_byte(unsigned v) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "%02X", v & 0xFFu);
  return buf.data();
}

std::string type_name(std::uint8_t t) {
  switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown type";
  }
}

std::string dims_text(const std::vector<std::uint32_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += '*';
    s += std::to_string(dims[i]);
  }
  return s;
}

// Owns a gzFile so every early throw closes it.
class gz_reader {
 public:
  explicit gz_reader(const std::filesystem::path& file) : file_(file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) fail(file, "file not found (expected an IDX file, plain or .gz)");
    // A FIFO or a device would block or never end: only regular files are opened.
    if (const std::string kind = special_file_kind(file.string()); !kind.empty())
      fail(file, "is " + kind + "; allowed: a regular IDX file, plain or .gz");
    errno = 0;
    gz_ = gzopen(file.c_str(), "rb");
    if (gz_ == nullptr) {
      fail(file, std::string("cannot open for reading (") +
                     (errno ? std::strerror(errno) : "out of memory") + ")");
    }
    // A larger internal buffer cuts the number of read() calls for the 40+ MB files.
    gzbuffer(gz_, 1u << 20);
  }
  ~gz_reader() {
    if (gz_ != nullptr) gzclose(gz_);
  }
  gz_reader(const gz_reader&) = delete;
  gz_reader& operator=(const gz_reader&) = delete;

  // Reads up to n bytes; returns fewer only at end of data. A gzip stream that stops
  // mid-member is reported by zlib as Z_BUF_ERROR: that is truncation, so it returns
  // short as well and the caller words the error. Real corruption throws here.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const auto want = static_cast<unsigned>(std::min(n - got, chunk_bytes));
      const int r = gzread(gz_, dst + got, want);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(gz_, &code);
        if (code == Z_BUF_ERROR) {
          cut_short_ = true;
          break;
        }
        if (code == Z_ERRNO) fail(file_, std::string("cannot read: ") + std::strerror(errno));
        // zlib prefixes its message with the path, which fail() already adds.
        std::string why = msg;
        const std::string prefix = file_.string() + ": ";
        if (why.starts_with(prefix)) why.erase(0, prefix.size());
        fail(file_, "corrupt gzip data (zlib: " + why + "); expected a gzip-compressed IDX file");
      }
      if (r == 0) {
        int code = 0;
        gzerror(gz_, &code);
        cut_short_ = cut_short_ || code == Z_BUF_ERROR;
        break;
      }
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

  bool gzip() const { return gzdirect(gz_) == 0; }
  bool cut_short() const { return cut_short_; }

 private:
  std::filesystem::path file_;
  gzFile gz_ = nullptr;
  bool cut_short_ = false;
};

idx_header parse_header(gz_reader& in, const std::filesystem::path& file) {
  std::array<std::uint8_t, 4> magic{};
  const std::size_t got = in.read(magic.data(), magic.size());
  idx_header h;
  h.gzip = in.gzip();
  if (got < magic.size()) {
    fail(file, "not an IDX file (only " + std::to_string(got) +
                   " bytes; an IDX file starts with 4 magic bytes 00 00 <type> <ndims>)");
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail(file, "not an IDX file (magic bytes " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) + " " +
                   hex_byte(magic[2]) + " " + hex_byte(magic[3]) + "; expected 00 00 <type> <ndims>)");
  }
  h.type = magic[2];
  if (h.type != ubyte_type) {
    fail(file, "only unsigned-byte IDX (type 0x08) is supported; got 0x" + hex_byte(h.type) + " (" +
                   type_name(h.type) + ")");
  }
  const std::size_t ndims = magic[3];
  if (ndims == 0 || ndims > max_dims) {
    fail(file, "IDX header declares " + std::to_string(ndims) + " dimensions; expected 1 to 4");
  }
  std::array<std::uint8_t, 4 * max_dims> raw{};
  const std::size_t dim_bytes = 4 * ndims;
  if (in.read(raw.data(), dim_bytes) < dim_bytes) {
    fail(file, "truncated: header declares " + std::to_string(ndims) +
                   " dimensions but the file ends inside the dimension sizes");
  }
  std::uint64_t total = 1;
  for (std::size_t i = 0; i < ndims; ++i) {
    // IDX sizes are big-endian regardless of the host.
    const std::uint32_t d = (std::uint32_t{raw[4 * i]} << 24) | (std::uint32_t{raw[4 * i + 1]} << 16) |
                            (std::uint32_t{raw[4 * i + 2]} << 8) | std::uint32_t{raw[4 * i + 3]};
    h.dims.push_back(d);
    // An empty dimension means a dataset without samples or features: never usable.
    if (d == 0) fail(file, "dimension " + std::to_string(i) + " has size 0 (dims " + dims_text(h.dims) + ")");
    if (total > std::numeric_limits<std::uint64_t>::max() / d) {
      fail(file, "IDX dimensions " + dims_text(h.dims) + " are too large to be real");
    }
    total *= d;
  }
  return h;
}

// Streams `want` data bytes to sink(bytes, n) in cache-sized pieces, so the 47 MB of
// Fashion-MNIST pixels never sit in memory as bytes and as floats at once. The header's
// full size appears in the truncation message so the user sees both sides.
template <class Sink>
void stream_data(gz_reader& in, const std::filesystem::path& file, const idx_header& h, std::size_t want,
                 Sink&& sink) {
  std::vector<std::uint8_t> buf(std::min(want, piece_bytes));
  std::size_t done = 0;
  while (done < want) {
    const std::size_t step = std::min(want - done, buf.size());
    const std::size_t got = in.read(buf.data(), step);
    sink(buf.data(), got);
    done += got;
    if (got < step) break;
  }
  if (done < want) {
    std::uint64_t promised = 1;
    for (auto d : h.dims) promised *= d;
    fail(file, "truncated: header promises " + dims_text(h.dims) + " = " + std::to_string(promised) +
                   " data bytes, file holds only " + std::to_string(done) +
                   (in.cut_short() ? " (gzip stream ends early)" : ""));
  }
}

// Reserves room for n elements without touching it. The reservation is capped so a
// header that lies about its size costs nothing until bytes really arrive. On Linux the
// big float array is marked for transparent huge pages: first-touch page faults, not
// decompression, dominated loading the 188 MB training set on virtual machines.
template <class T>
void reserve_hinted(std::vector<T>& v, std::size_t n) {
  v.reserve(std::min(n, max_reserve_bytes / sizeof(T)));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data());
  const std::uintptr_t first = (begin + huge - 1) & ~(huge - 1);
  const std::uintptr_t last = (begin + v.capacity() * sizeof(T)) & ~(huge - 1);
  // Only a hint: failure (THP disabled, old kernel) just means ordinary pages.
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

}  // namespace

idx_header read_idx_header(const std::filesystem::path& file) {
  gz_reader in(file);
  return parse_header(in, file);
}

std::uint8_t read_idx_label_max(const std::filesystem::path& labels, std::size_t limit) {
  gz_reader in(labels);
  const idx_header h = parse_header(in, labels);
  if (h.dims.size() != 1) fail(labels, "labels file must be 1-D (one byte per sample); got dims " + dims_text(h.dims));
  const std::size_t n = limit == 0 ? h.dims[0] : std::min<std::size_t>(limit, h.dims[0]);
  std::uint8_t top = 0;
  stream_data(in, labels, h, n, [&](const std::uint8_t* p, std::size_t k) {
    if (k) top = std::max(top, *std::max_element(p, p + k));
  });
  return top;
}

core::dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                       double pixel_scale, std::size_t limit) {
  if (!std::isfinite(pixel_scale) || pixel_scale <= 0) {
    throw core::user_error("pixel_scale for " + images.string() + " must be a finite positive number; got " +
                           std::to_string(pixel_scale));
  }
  gz_reader img_in(images);
  const idx_header ih = parse_header(img_in, images);
  gz_reader lab_in(labels);
  const idx_header lh = parse_header(lab_in, labels);

  if (ih.dims.size() != 3) {
    fail(images, "images file must be 3-D (samples*rows*cols); got " + std::to_string(ih.dims.size()) +
                     "-D with dims " + dims_text(ih.dims));
  }
  if (lh.dims.size() != 1) {
    fail(labels, "labels file must be 1-D (one byte per sample); got " + std::to_string(lh.dims.size()) +
                     "-D with dims " + dims_text(lh.dims));
  }
  const std::size_t available = ih.dims[0];
  if (lh.dims[0] != available) {
    throw core::user_error("images file " + images.string() + " has " + std::to_string(available) +
                           " samples but labels file " + labels.string() + " has " +
                           std::to_string(lh.dims[0]) + "; the counts must match");
  }
  if (limit > available) {
    fail(images, "limit " + std::to_string(limit) + " exceeds the " + std::to_string(available) +
                     " samples in the file (use 0 to load all)");
  }

  core::dataset ds;
  ds.rows = limit == 0 ? available : limit;
  ds.cols = std::size_t{ih.dims[1]} * ih.dims[2];
  // 256-entry table: one multiply per distinct byte value instead of one per pixel,
  // and every occurrence of a byte maps to the bit-identical float.
  std::array<float, 256> scale{};
  for (std::size_t b = 0; b < scale.size(); ++b) {
    scale[b] = static_cast<float>(static_cast<double>(b) * pixel_scale);
  }

  reserve_hinted(ds.x, ds.rows * ds.cols);
  stream_data(img_in, images, ih, ds.rows * ds.cols, [&](const std::uint8_t* p, std::size_t n) {
    const std::size_t old = ds.x.size();
    ds.x.resize(old + n);
    std::transform(p, p + n, ds.x.begin() + static_cast<std::ptrdiff_t>(old),
                   [&](std::uint8_t b) { return scale[b]; });
  });
  reserve_hinted(ds.labels, ds.rows);
  stream_data(lab_in, labels, lh, ds.rows, [&](const std::uint8_t* p, std::size_t n) {
    ds.labels.insert(ds.labels.end(), p, p + n);
  });

  ds.classes = std::size_t{*std::max_element(ds.labels.begin(), ds.labels.end())} + 1;
  return ds;
}

}  // namespace phaseless::io
