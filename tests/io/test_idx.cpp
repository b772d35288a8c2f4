// IDX reader tests: tiny files written here (plain and gzip) with known bytes, every
// rejection path, and the real Fashion-MNIST test set when it is installed.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/idx.hpp"

namespace fs = std::filesystem;
using phaseless::core::user_error;
using phaseless::io::load_idx;
using phaseless::io::read_idx_header;

namespace {

// A private folder per test case, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("phaseless_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_plain(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  gzFile gz = gzopen(p.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs f, which must throw user_error, and returns the message.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const user_error& e) {
    return e.what();
  }
  FAIL("expected a user_error");
  return {};
}

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

// 3 samples of 2x2 pixels and their labels.
const std::vector<std::uint8_t> pixels = {0, 1, 2, 255, 10, 20, 30, 40, 128, 64, 32, 16};
const std::vector<std::uint8_t> labels = {0, 4, 2};

void write_pair(const temp_dir& d, bool gzip) {
  auto write = gzip ? write_gzip : write_plain;
  write(d / "img", idx_bytes(0x08, {3, 2, 2}, pixels));
  write(d / "lab", idx_bytes(0x08, {3}, labels));
}

void check_pair(const phaseless::core::dataset& ds, std::size_t rows, double scale) {
  CHECK(ds.rows == rows);
  CHECK(ds.cols == 4);
  CHECK(ds.classes == (rows == 1 ? 1u : 5u));
  REQUIRE(ds.x.size() == rows * 4);
  REQUIRE(ds.labels.size() == rows);
  for (std::size_t i = 0; i < rows * 4; ++i) CHECK(ds.x[i] == static_cast<float>(pixels[i] * scale));
  for (std::size_t r = 0; r < rows; ++r) CHECK(ds.labels[r] == labels[r]);
  CHECK(ds.target_cols == 0);
  CHECK(ds.y.empty());
}

}  // namespace

TEST_CASE("idx: plain and gzip files load to the same exact values") {
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    temp_dir d;
    write_pair(d, gzip);
    const auto h = read_idx_header(d / "img");
    CHECK(h.type == 0x08);
    CHECK(h.gzip == gzip);
    CHECK(h.dims == std::vector<std::uint32_t>{3, 2, 2});
    CHECK(read_idx_header(d / "lab").dims == std::vector<std::uint32_t>{3});
    check_pair(load_idx(d / "img", d / "lab", 1.0 / 255.0, 0), 3, 1.0 / 255.0);
    check_pair(load_idx(d / "img", d / "lab", 1.0, 0), 3, 1.0);
    check_pair(load_idx(d / "img", d / "lab", 0.5, 1), 1, 0.5);
    check_pair(load_idx(d / "img", d / "lab", 1.0, 3), 3, 1.0);
  }
}

TEST_CASE("idx: trailing bytes after the data are ignored") {
  temp_dir d;
  auto img = idx_bytes(0x08, {3, 2, 2}, pixels);
  img.insert(img.end(), {9, 9, 9, 9, 9});
  write_plain(d / "img", img);
  auto lab = idx_bytes(0x08, {3}, labels);
  lab.push_back(200);  // would change classes if it were read as a label
  write_gzip(d / "lab", lab);
  check_pair(load_idx(d / "img", d / "lab", 1.0, 0), 3, 1.0);
}

TEST_CASE("idx: unreadable or malformed headers are user errors naming the file") {
  temp_dir d;
  const std::string missing = (d / "nope.gz").string();
  auto msg = error_of([&] { read_idx_header(missing); });
  CHECK(has(msg, missing));
  CHECK(has(msg, "not found"));

  msg = error_of([&] { read_idx_header(d.path); });
  CHECK(has(msg, d.path.string()));
  CHECK(has(msg, "directory"));

  write_plain(d / "empty", {});
  msg = error_of([&] { read_idx_header(d / "empty"); });
  CHECK(has(msg, (d / "empty").string()));
  CHECK(has(msg, "not an IDX file"));

  write_plain(d / "text", {'h', 'e', 'l', 'l', 'o'});
  msg = error_of([&] { read_idx_header(d / "text"); });
  CHECK(has(msg, (d / "text").string()));
  CHECK(has(msg, "not an IDX file (magic bytes 68 65 6C 6C"));

  write_gzip(d / "float.gz", idx_bytes(0x0D, {2}, {0, 0, 0, 0, 0, 0, 0, 0}));
  msg = error_of([&] { read_idx_header(d / "float.gz"); });
  CHECK(has(msg, (d / "float.gz").string()));
  CHECK(has(msg, "only unsigned-byte IDX (type 0x08) is supported; got 0x0D (float)"));

  write_plain(d / "zero", idx_bytes(0x08, {}, {}));
  msg = error_of([&] { read_idx_header(d / "zero"); });
  CHECK(has(msg, (d / "zero").string()));
  CHECK(has(msg, "declares 0 dimensions; expected 1 to 4"));

  write_plain(d / "five", idx_bytes(0x08, {1, 1, 1, 1, 1}, {7}));
  msg = error_of([&] { read_idx_header(d / "five"); });
  CHECK(has(msg, "declares 5 dimensions; expected 1 to 4"));

  auto cut = idx_bytes(0x08, {3, 2, 2}, {});
  cut.resize(10);  // ends inside the second dimension size
  write_plain(d / "cuthdr", cut);
  msg = error_of([&] { read_idx_header(d / "cuthdr"); });
  CHECK(has(msg, (d / "cuthdr").string()));
  CHECK(has(msg, "truncated"));

  write_plain(d / "empty_dim", idx_bytes(0x08, {3, 0, 2}, {}));
  msg = error_of([&] { read_idx_header(d / "empty_dim"); });
  CHECK(has(msg, "dimension 1 has size 0"));
}

TEST_CASE("idx: truncated data is reported with promised and actual sizes") {
  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    temp_dir d;
    auto write = gzip ? write_gzip : write_plain;
    write(d / "img", idx_bytes(0x08, {3, 2, 2}, {1, 2, 3, 4, 5}));
    write(d / "lab", idx_bytes(0x08, {3}, labels));
    auto msg = error_of([&] { load_idx(d / "img", d / "lab", 1.0, 0); });
    CHECK(has(msg, (d / "img").string()));
    CHECK(has(msg, "truncated: header promises 3*2*2 = 12 data bytes, file holds only 5"));
    // A prefix that is fully present still loads: limit reads only what it needs.
    CHECK(load_idx(d / "img", d / "lab", 1.0, 1).rows == 1);

    write(d / "lab2", idx_bytes(0x08, {3}, {1}));
    write(d / "img2", idx_bytes(0x08, {3, 2, 2}, pixels));
    msg = error_of([&] { load_idx(d / "img2", d / "lab2", 1.0, 0); });
    CHECK(has(msg, (d / "lab2").string()));
    CHECK(has(msg, "truncated: header promises 3 = 3 data bytes, file holds only 1"));
  }
}

TEST_CASE("idx: a gzip stream cut mid-way or corrupted is reported") {
  temp_dir d;
  std::vector<std::uint8_t> many(5000);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<std::uint8_t>((i * 7919) % 251);
  write_gzip(d / "full.gz", idx_bytes(0x08, {50, 10, 10}, many));
  write_gzip(d / "lab.gz", idx_bytes(0x08, {50}, std::vector<std::uint8_t>(50, 1)));
  auto gz = read_all(d / "full.gz");

  auto cut = gz;
  cut.resize(gz.size() / 2);
  write_plain(d / "cut.gz", cut);
  auto msg = error_of([&] { load_idx(d / "cut.gz", d / "lab.gz", 1.0, 0); });
  CHECK(has(msg, (d / "cut.gz").string()));
  CHECK(has(msg, "truncated: header promises 50*10*10 = 5000 data bytes"));

  auto bad = gz;
  for (std::size_t i = 20; i < bad.size() - 8; ++i) bad[i] ^= 0x5A;  // keep the gzip header valid
  write_plain(d / "bad.gz", bad);
  msg = error_of([&] { load_idx(d / "bad.gz", d / "lab.gz", 1.0, 0); });
  CHECK(has(msg, (d / "bad.gz").string()));
  CHECK(has(msg, "corrupt gzip data"));
}

TEST_CASE("idx: images and labels must agree in shape and count") {
  temp_dir d;
  write_pair(d, false);
  write_plain(d / "flat", idx_bytes(0x08, {3, 4}, pixels));
  auto msg = error_of([&] { load_idx(d / "flat", d / "lab", 1.0, 0); });
  CHECK(has(msg, (d / "flat").string()));
  CHECK(has(msg, "images file must be 3-D"));

  write_plain(d / "lab2d", idx_bytes(0x08, {3, 1}, labels));
  msg = error_of([&] { load_idx(d / "img", d / "lab2d", 1.0, 0); });
  CHECK(has(msg, (d / "lab2d").string()));
  CHECK(has(msg, "labels file must be 1-D"));

  write_plain(d / "lab2", idx_bytes(0x08, {2}, {0, 1}));
  msg = error_of([&] { load_idx(d / "img", d / "lab2", 1.0, 0); });
  CHECK(has(msg, (d / "img").string()));
  CHECK(has(msg, (d / "lab2").string()));
  CHECK(has(msg, "has 3 samples but labels file"));
  CHECK(has(msg, "has 2;"));

  msg = error_of([&] { load_idx(d / "img", d / "lab", 1.0, 4); });
  CHECK(has(msg, (d / "img").string()));
  CHECK(has(msg, "limit 4 exceeds the 3 samples"));

  msg = error_of([&] { load_idx(d / "img", d / "nolab", 1.0, 0); });
  CHECK(has(msg, (d / "nolab").string()));
  CHECK(has(msg, "not found"));

  msg = error_of([&] { load_idx(d / "img", d / "lab", 0.0, 0); });
  CHECK(has(msg, "pixel_scale"));
}

TEST_CASE("idx: real Fashion-MNIST test set") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  const fs::path images = dir / "t10k-images-idx3-ubyte.gz";
  const fs::path label_file = dir / "t10k-labels-idx1-ubyte.gz";
  REQUIRE_MESSAGE((fs::exists(images) && fs::exists(label_file)),
                  "dataset-fashion-mnist is missing: run tools/setup-deps.sh");
  CHECK(read_idx_header(images).gzip);
  const auto ds = load_idx(images, label_file, 1.0 / 255.0, 0);
  CHECK(ds.rows == 10000);
  CHECK(ds.cols == 784);
  CHECK(ds.classes == 10);
  CHECK(ds.labels[0] == 9);  // the first test image is an ankle boot
  CHECK(ds.labels[1] == 2);
  double sum = 0;
  for (float v : ds.sample(0)) sum += v;
  CHECK(sum == doctest::Approx(33456.0 / 255.0).epsilon(1e-6));  // byte sum of row 0 is 33456
}
