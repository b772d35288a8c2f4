// Data beyond IDX: NumPy .npy arrays, HDF5 datasets and CIFAR-10's binary batches, on
// small files written here. Values must arrive exactly as written (bytes scaled as IDX
// bytes are; floats as stored), and every mistake is one message naming field and file.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/data_source.hpp"
#include "sim/io/model_loader.hpp"
#include "tests/support/data_files.hpp"

namespace fs = std::filesystem;
using namespace phaseless;
using test::data::write_cifar10;
using test::data::write_npy;

namespace {

struct scratch {
  fs::path dir = fs::temp_directory_path() / ("phaseless_data_" + std::to_string(::getpid()));
  scratch() { fs::create_directories(dir); }
  ~scratch() { fs::remove_all(dir); }
};

// A 12-input, 3-class Z-IL model around a data block.
fs::path model_with(const fs::path& dir, const std::string& data, unsigned inputs = 12, const std::string& shape = "") {
  const fs::path f = dir / "m.textproto";
  std::ofstream(f) << "schema_version: 1\nname: \"data\"\nseed: 1\n"
                   << "populations { name: \"in\" role: INPUT size: " << inputs << " " << shape << " }\n"
                   << "populations { name: \"out\" role: OUTPUT size: 10 bias: true }\n"
                   << "projections { name: \"w\" pre: \"in\" post: \"out\" dense {} }\n"
                   << "rule { zil { optimizer { lr: 0.01 } } }\n"
                   << "data { " << data << " }\nschedule { epochs: 1 }\n";
  return f;
}

std::string load_error(const fs::path& model) {
  try {
    const auto m = io::load_model(model);
    io::load_split(m, false);
    io::load_split(m, true);
  } catch (const core::user_error& e) {
    return e.what();
  }
  return "<no user_error thrown>";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const char* npy_block =
    "npy { train_images: \"x.npy\" train_labels: \"y.npy\" test_images: \"tx.npy\" test_labels: \"ty.npy\" }";

// 20 training and 5 test samples of 3x4 uint8 pixels; labels 0..9 as int64.
void write_npy_u8(const fs::path& dir) {
  for (const auto& [x, y, n] : {std::tuple{"x.npy", "y.npy", 20}, std::tuple{"tx.npy", "ty.npy", 5}}) {
    std::vector<std::uint8_t> px(std::size_t(n) * 12);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t(i * 7 % 256);
    std::vector<std::int64_t> lab(n);
    for (int i = 0; i < n; ++i) lab[i] = i % 10;
    write_npy(dir / x, "|u1", {std::uint64_t(n), 3, 4}, px);
    write_npy(dir / y, "<i8", {std::uint64_t(n)}, lab);
  }
}

}  // namespace

TEST_CASE("npy: uint8 images scale like IDX bytes, int64 labels, subsets") {
  scratch s;
  write_npy_u8(s.dir);
  const auto m = io::load_model(model_with(s.dir, std::string(npy_block) +
                                                      " pixel_scale: 0.5 pixel_offset: -1 train_subset: 15"));
  const auto train = io::load_split(m, false);
  CHECK(train.rows == 15);
  CHECK(train.cols == 12);
  CHECK(train.classes == 10);
  for (std::size_t i = 0; i < train.x.size(); ++i)   // exact: float(b * 0.5) - 1 is representable
    REQUIRE(train.x[i] == float(std::uint8_t(i * 7 % 256)) * 0.5f - 1.0f);
  CHECK(train.labels[13] == 3);
  CHECK(io::load_split(m, true).rows == 5);
}

TEST_CASE("npy: float32 images are taken as stored, labels of any integer dtype") {
  scratch s;
  std::vector<float> px(8 * 12);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = 0.25f * float(i) - 3.0f;
  std::vector<std::uint8_t> lab{0, 1, 2, 3, 4, 5, 6, 7};
  for (const char* x : {"x.npy", "tx.npy"}) write_npy(s.dir / x, "<f4", {8, 12}, px);
  for (const char* y : {"y.npy", "ty.npy"}) write_npy(s.dir / y, "|u1", {8}, lab);
  const auto m = io::load_model(model_with(s.dir, npy_block));
  const auto d = io::load_split(m, false);
  CHECK(d.x == px);
  CHECK(d.classes == 8);
}

TEST_CASE("npy: every mistake names the field and the file") {
  scratch s;
  write_npy_u8(s.dir);
  const auto model = model_with(s.dir, npy_block);
  const auto x = s.dir / "x.npy";
  std::vector<std::uint8_t> px(20 * 12, 1);
  write_npy(x, ">u2", {20, 12}, px.data(), px.size());
  CHECK(has(load_error(model), "data.npy.train_images: " + x.string() + ": dtype >u2 is big-endian"));
  write_npy(x, "|u1", {20, 3, 4}, px.data(), px.size(), true);
  CHECK(has(load_error(model), "data.npy.train_images: " + x.string() + ": the array is in Fortran order"));
  write_npy(x, "<c8", {20, 12}, px);
  CHECK(has(load_error(model), "dtype '<c8' is not supported"));
  write_npy(x, "|u1", {20, 3, 5}, px);   // promises 300 bytes, holds 240
  CHECK(has(load_error(model), "data.npy.train_images: " + x.string() + ": truncated"));
  write_npy(x, "|u1", {20, 3, 4}, px);
  std::vector<std::uint8_t> more(25 * 12, 1);
  write_npy(s.dir / "tx.npy", "|u1", {25, 12}, more);   // 25 test images, 5 labels
  CHECK(has(load_error(model), "data.npy.test_labels: " + (s.dir / "ty.npy").string() +
                                   ": holds 5 labels but data.npy.test_images holds 25 images"));
  write_npy_u8(s.dir);
  write_npy(s.dir / "y.npy", "<f8", {20}, std::vector<double>(20, 1.0));
  CHECK(has(load_error(model), "data.npy.train_labels: " + (s.dir / "y.npy").string() + ": labels have dtype float64"));
  std::vector<std::int32_t> bad(20, 1);
  bad[17] = -1;
  write_npy(s.dir / "y.npy", "<i4", {20}, bad);
  CHECK(has(load_error(model), "data.npy.train_labels: " + (s.dir / "y.npy").string() +
                                   ": label -1 at row 17 is out of range"));
  write_npy_u8(s.dir);
  std::ofstream(x) << "not numpy";
  CHECK(has(load_error(model), "data.npy.train_images: " + x.string() + ": not a NumPy .npy file"));
  // validate reads the labels too: one the OUTPUT population cannot represent names both.
  write_npy_u8(s.dir);
  std::vector<std::int64_t> twelve(5, 12);
  write_npy(s.dir / "ty.npy", "<i8", {5}, twelve);
  CHECK(has(load_error(model), "populations[1].size: the OUTPUT population 'out' has 10 neurons but "
                               "data.npy.test_labels holds label 12; allowed: at least 13"));
  // validate reads headers only: a wrong input size names the population and the field.
  write_npy_u8(s.dir);
  const std::string wrong = load_error(model_with(s.dir, npy_block, 10));
  CHECK(has(wrong, "populations[0].size: the INPUT population 'in' has size 10 but data.npy.train_images holds 12"));
  CHECK(has(load_error(model_with(s.dir, "npy { train_images: \"x.npy\" }")), "data.npy.train_labels: missing"));
}

namespace {

hid_t h5_type(std::uint8_t) { return H5T_NATIVE_UINT8; }
hid_t h5_type(std::int32_t) { return H5T_NATIVE_INT32; }
hid_t h5_type(double) { return H5T_NATIVE_DOUBLE; }

template <class T>
void h5_write(hid_t f, const std::string& path, const std::vector<hsize_t>& dims, const std::vector<T>& v) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  hid_t ds = H5Dcreate2(f, path.c_str(), h5_type(T{}), space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(ds >= 0);
  H5Dwrite(ds, h5_type(T{}), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(ds);
  H5Sclose(space);
  H5Pclose(lcpl);
}

}  // namespace

TEST_CASE("hdf5: images and labels from datasets in one file, mistakes name field, file and dataset") {
  scratch s;
  const fs::path file = s.dir / "d.h5";
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<std::uint8_t> px(30 * 12);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t(i % 251);
  std::vector<std::int32_t> lab(30);
  for (int i = 0; i < 30; ++i) lab[i] = (i * 3) % 10;
  h5_write(f, "train/images", {30, 12}, px);
  h5_write(f, "train/labels", {30}, lab);
  h5_write(f, "test/images", {30, 2, 6}, px);
  h5_write(f, "test/labels", {30}, lab);
  h5_write(f, "test/float_labels", {30}, std::vector<double>(30, 0.0));
  H5Fclose(f);
  const std::string block = "hdf5 { file: \"d.h5\" images: \"train/images\" labels: \"train/labels\" "
                            "test_images: \"test/images\" test_labels: \"test/labels\" } train_subset: 10";
  const auto m = io::load_model(model_with(s.dir, block));
  const auto d = io::load_split(m, false);
  CHECK(d.rows == 10);
  for (std::size_t i = 0; i < d.x.size(); ++i) REQUIRE(d.x[i] == float(double(i % 251) / 255.0));
  CHECK(d.labels[7] == 1);
  CHECK(io::load_split(m, true).rows == 30);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string b = block;
    b.replace(b.find(from), from.size(), to);
    return load_error(model_with(s.dir, b));
  };
  CHECK(has(with("train/labels", "train/nope"), "data.hdf5.labels: " + file.string() +
                                                    " dataset 'train/nope': the file has no such dataset"));
  CHECK(has(with("\"train/labels", "\"test/float_labels"), "data.hdf5.labels: " + file.string() +
                                                                 " dataset 'test/float_labels': labels have dtype float64"));
  CHECK(has(with("train/images", "train"), "dataset 'train': is a group, not a dataset"));
  CHECK(has(with("d.h5", "absent.h5"), "data.hdf5.file: file not found"));
}

TEST_CASE("cifar10: the binary batches, 3x32x32 channel-first, labels 0..9") {
  scratch s;
  const fs::path dir = s.dir / "cifar-10-batches-bin";
  write_cifar10(dir, 4);
  const std::string block = "cifar10 { dir: \"cifar-10-batches-bin\" } pixel_scale: 1";
  const std::string shape = "shape { channels: 3 height: 32 width: 32 }";
  const auto m = io::load_model(model_with(s.dir, block, 3072, shape));
  const auto train = io::load_split(m, false);
  CHECK(train.rows == 20);   // 5 batches x 4 records
  CHECK(train.cols == 3072);
  for (std::size_t g : {0u, 5u, 19u}) {
    CHECK(train.labels[g] == g % 10);
    for (std::size_t p : {0u, 1023u, 1024u, 3071u}) REQUIRE(train.x[g * 3072 + p] == float((g + p) % 256));
  }
  const auto test = io::load_split(m, true);
  CHECK(test.rows == 4);
  CHECK(test.labels[0] == 0);   // record 1000: label 1000 % 10
  CHECK(test.x[1] == float((1000 + 1) % 256));
  // Mistakes: wrong input size, a truncated batch, a missing batch, a label above 9.
  CHECK(has(load_error(model_with(s.dir, block, 784)), "has size 784 but data.cifar10.dir holds 3072 values per sample"));
  fs::resize_file(dir / "data_batch_3.bin", 3073 * 4 - 1);
  CHECK(has(load_error(model_with(s.dir, block, 3072, shape)),
            "data.cifar10.dir: " + (dir / "data_batch_3.bin").string() + " is 12291 bytes, not a whole number"));
  fs::remove(dir / "data_batch_3.bin");
  CHECK(has(load_error(model_with(s.dir, block, 3072, shape)), (dir / "data_batch_3.bin").string() + " not found"));
  write_cifar10(dir, 4);
  {
    std::fstream f(dir / "data_batch_2.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3073);   // record 1 of batch 2 = record 5 overall
    f.put(char(12));
  }
  CHECK(has(load_error(model_with(s.dir, block, 3072, shape)), "label 12 of record 5 is out of range; allowed: 0 to 9"));
}

TEST_CASE("npy: a header whose shape overflows or exceeds memory is refused before any allocation") {
  scratch s;
  write_npy_u8(s.dir);
  const auto model = model_with(s.dir, npy_block);
  std::vector<std::uint8_t> px(12, 1);
  write_npy(s.dir / "x.npy", "|u1", {1u << 30, 1u << 30, 1u << 30}, px);   // 2^90 elements
  CHECK(has(load_error(model), "has more elements than 2^64"));
  write_npy(s.dir / "x.npy", "<f8", {1u << 30, 1u << 30}, px);              // 8 EiB
  CHECK(has(load_error(model), "needs more memory than this machine has"));
}
