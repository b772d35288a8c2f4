#include "sim/io/data_source.hpp"

#include <algorithm>

#include "sim/core/errors.hpp"
#include "sim/io/array_data.hpp"
#include "sim/io/idx.hpp"
#include "sim/io/teacher.hpp"

namespace phaseless::io {
namespace {

namespace v1 = phaseless::v1;

// The image and label arrays of a npy or hdf5 split, with their model fields.
std::pair<array_ref, array_ref> array_refs(const loaded_model& m, bool test) {
  const v1::Data& d = m.model.data();
  if (d.has_npy()) {
    const auto& n = d.npy();
    const std::string split = test ? "test" : "train";
    auto ref = [&](const std::string& what, const std::string& given) {
      if (given.empty())
        throw core::user_error("data.npy." + split + "_" + what + ": missing; allowed: a path to a .npy file");
      return array_ref{"data.npy." + split + "_" + what, resolve_data_path(m, given), ""};
    };
    return {ref("images", test ? n.test_images() : n.train_images()),
            ref("labels", test ? n.test_labels() : n.train_labels())};
  }
  const auto& h = d.hdf5();
  const std::string& file = test && !h.test_file().empty() ? h.test_file() : h.file();
  const std::string file_field = test && !h.test_file().empty() ? "data.hdf5.test_file" : "data.hdf5.file";
  if (file.empty()) throw core::user_error(file_field + ": missing; allowed: the path of an HDF5 file");
  const auto path = resolve_data_path(m, file);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw core::user_error(file_field + ": file not found: " + path.string() +
                           " (relative paths resolve against the model's folder)");
  return {array_ref{test ? "data.hdf5.test_images" : "data.hdf5.images", path, test ? h.test_images() : h.images()},
          array_ref{test ? "data.hdf5.test_labels" : "data.hdf5.labels", path, test ? h.test_labels() : h.labels()}};
}

}  // namespace

core::dataset load_split(const loaded_model& m, bool test) {
  const v1::Data& d = m.model.data();
  const std::size_t limit = test ? d.test_subset() : d.train_subset();
  if (d.has_teacher()) return make_teacher_data(d.teacher(), m.model.seed(), test);
  if (d.has_idx()) {
    const auto& f = d.idx();
    core::dataset ds = load_idx(resolve_data_path(m, test ? f.test_images() : f.train_images()),
                                resolve_data_path(m, test ? f.test_labels() : f.train_labels()), d.pixel_scale(), limit);
    if (d.pixel_offset() != 0)
      for (float& x : ds.x) x += static_cast<float>(d.pixel_offset());
    return ds;
  }
  if (d.has_cifar10()) {
    const std::string field = "data.cifar10.dir";
    return to_dataset(load_cifar10(field, resolve_data_path(m, d.cifar10().dir()), test, limit), d.pixel_scale(),
                      d.pixel_offset(), array_ref{field, resolve_data_path(m, d.cifar10().dir()), ""});
  }
  if (d.has_npy() || d.has_hdf5()) {
    const auto [images, labels] = array_refs(m, test);
    raw_arrays r = d.has_npy() ? load_npy_pair(images, labels, limit) : load_hdf5_pair(images, labels, limit);
    return to_dataset(std::move(r), d.pixel_scale(), d.pixel_offset(), labels);
  }
  throw core::user_error("data: no data source; allowed: idx, npy, hdf5, cifar10 or teacher");
}

bool describe_array_split(const loaded_model& m, bool test, split_shape& out,
                          const std::function<void(const std::string&, const std::string&)>& add) {
  const v1::Data& d = m.model.data();
  try {
    if (d.has_cifar10()) {
      if (d.cifar10().dir().empty()) {
        add("data.cifar10.dir", "missing; allowed: the folder holding CIFAR-10's binary batches");
        return false;
      }
      out.rows = cifar10_rows("data.cifar10.dir", resolve_data_path(m, d.cifar10().dir()), test);
      out.cols = 3 * 32 * 32;
      return true;
    }
    const auto [images, labels] = array_refs(m, test);
    const array_info ii = d.has_npy() ? read_npy_info(images) : read_hdf5_info(images);
    const array_info li = d.has_npy() ? read_npy_info(labels) : read_hdf5_info(labels);
    out.rows = check_pair(images, ii, labels, li);
    out.cols = 1;
    for (std::size_t i = 1; i < ii.shape.size(); ++i) out.cols *= ii.shape[i];
    // Labels are small (one integer a sample): read them, so validate checks their range.
    const std::uint64_t subset = test ? d.test_subset() : d.train_subset();
    const std::size_t rows = subset > 0 && subset < out.rows ? subset : out.rows;
    const auto values = d.has_npy() ? read_npy_labels(labels, li, rows) : read_hdf5_labels(labels, li, rows);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] > 255)
        throw core::user_error(labels.where() + ": label " + std::to_string(values[i]) + " at row " + std::to_string(i) +
                               " is out of range; allowed: 0 to 255 (class ids)");
      out.max_label = std::max(out.max_label, values[i]);
    }
    out.labels_field = labels.field;
    return true;
  } catch (const core::user_error& e) {
    const std::string msg = e.what();
    const auto colon = msg.find(": ");
    add(msg.substr(0, colon), colon == std::string::npos ? msg : msg.substr(colon + 2));
    return false;
  }
}

std::string describe_data(const loaded_model& m) {
  const v1::Data& d = m.model.data();
  std::uint64_t rows[2] = {0, 0}, cols = 0;
  std::string kind;
  if (d.has_teacher()) {
    const auto& t = d.teacher();
    kind = "teacher";
    rows[0] = t.train_samples();
    rows[1] = t.test_samples() ? t.test_samples() : t.train_samples();
    cols = t.inputs();
  } else if (d.has_idx()) {
    kind = "idx";
    const auto& f = d.idx();
    for (const bool test : {false, true}) {
      const auto h = read_idx_header(resolve_data_path(m, test ? f.test_images() : f.train_images()));
      rows[test] = h.dims.empty() ? 0 : h.dims[0];
      cols = h.dims.size() == 3 ? std::uint64_t{h.dims[1]} * h.dims[2] : 0;
    }
  } else {
    kind = d.has_npy() ? "npy" : d.has_hdf5() ? "hdf5" : "cifar10";
    for (const bool test : {false, true}) {
      split_shape sh;
      if (!describe_array_split(m, test, sh, [](const std::string&, const std::string&) {})) return kind;
      rows[test] = sh.rows;
      cols = sh.cols;
    }
  }
  for (const bool test : {false, true}) {
    const std::uint64_t subset = test ? d.test_subset() : d.train_subset();
    if (subset > 0 && subset < rows[test]) rows[test] = subset;
  }
  return kind + ": " + std::to_string(rows[0]) + " training and " + std::to_string(rows[1]) + " test samples of " +
         std::to_string(cols) + " values" + (d.shuffle() ? ", reshuffled every epoch" : "");
}

}  // namespace phaseless::io
