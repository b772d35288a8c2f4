// Data checks of validate_model: everything that needs the data files. Only headers
// are read (plus the file size), so `phaseless validate` stays instant on 60k images.
#include "sim/io/model_validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/data_source.hpp"
#include "sim/io/idx.hpp"
#include "sim/io/model_limits.hpp"

namespace phaseless::io {
namespace {

namespace v1 = phaseless::v1;
namespace fs = std::filesystem;

std::string dims_text(const std::vector<std::uint32_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

class data_checker {
 public:
  data_checker(const loaded_model& m, const population_ref& input, const population_ref& output, const report_fn& add)
      : m_(m), input_(input.pop), input_size_path_(input.size_path), output_(output), add(add) {}

  // Checks one data file down to its header; nullopt when unusable (already reported).
  std::optional<idx_header> idx_file(const std::string& path, const std::string& given) {
    if (given.empty()) {
      add(path, "missing; allowed: a path to an IDX file (relative to the model's folder, or $FASHION_MNIST/...)");
      return std::nullopt;
    }
    const fs::path file = resolve_data_path(m_, given);
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      std::string hint = fs::path(given).is_relative() && given.front() != '$'
                             ? " (relative paths resolve against the model's folder " + m_.dir.string() + ")"
                             : "";
      if (given.starts_with("$FASHION_MNIST")) hint = " (installed by the Debian package dataset-fashion-mnist)";
      if (fs::exists(file.string() + ".gz", ec)) hint += " (but " + file.string() + ".gz exists)";
      add(path, "file not found: " + file.string() + hint + "; allowed: an existing IDX file, plain or .gz");
      return std::nullopt;
    }
    if (const std::string kind = special_file_kind(file.string()); !kind.empty()) {
      add(path, file.string() + ": is " + kind + "; allowed: a regular IDX file, plain or .gz");
      return std::nullopt;
    }
    idx_header h;
    try {
      h = read_idx_header(file);
    } catch (const core::user_error& e) {
      add(path, e.what());
      return std::nullopt;
    }
    // The header reader stops after the dims; for a plain file the size tells cheaply
    // whether the data is all there, so `validate` catches truncation before a run.
    if (!h.gzip) {
      std::uint64_t want = 4 + 4 * h.dims.size();
      std::uint64_t data = 1;
      for (auto d : h.dims) data *= d;
      want += data;
      const auto have = fs::file_size(file, ec);
      if (!ec && have < want) {
        add(path, file.string() + ": truncated: header promises " + dims_text(h.dims) + " = " + std::to_string(data) +
                      " data bytes, the file is " + std::to_string(have) + " bytes long (needs " +
                      std::to_string(want) + ")");
        return std::nullopt;
      }
    }
    return h;
  }

  // Checks an image/label file pair; returns the usable sample count (0 if unknown).
  std::uint32_t check_pair(const std::string& which, const std::string& images, const std::string& labels) {
    const std::string ip = "data.idx." + which + "_images";
    const std::string lp = "data.idx." + which + "_labels";
    const auto ih = idx_file(ip, images);
    const auto lh = idx_file(lp, labels);
    if (ih && ih->dims.size() != 3) {
      add(ip, "images must be 3-D (samples, rows, cols) but the file has dims " + dims_text(ih->dims) +
                  "; allowed: an IDX3 image file");
    } else if (ih && input_ != nullptr) {
      const std::uint64_t pixels = std::uint64_t{ih->dims[1]} * ih->dims[2];
      const v1::Population& in = *input_;
      if (pixels != in.size()) {
        add(input_size_path_,
            "the INPUT population '" + in.name() + "' has size " + std::to_string(in.size()) + " but " + ip + " holds " +
                std::to_string(ih->dims[1]) + "x" + std::to_string(ih->dims[2]) + " = " + std::to_string(pixels) +
                " pixels per image; allowed: " + std::to_string(pixels));
      }
    }
    if (lh && lh->dims.size() != 1) {
      add(lp, "labels must be 1-D (one byte per sample) but the file has dims " + dims_text(lh->dims) +
                  "; allowed: an IDX1 label file");
    }
    if (!ih || !lh || ih->dims.size() != 3 || lh->dims.size() != 1) return 0;
    if (lh->dims[0] != ih->dims[0]) {
      add(lp, "holds " + std::to_string(lh->dims[0]) + " labels but " + ip + " holds " + std::to_string(ih->dims[0]) +
                  " images; allowed: equal counts");
      return 0;
    }
    summary.cols = std::uint64_t{ih->dims[1]} * ih->dims[2];
    return ih->dims[0];
  }

  // Every label indexes an output neuron (the class under SOFTMAX_CE, the one-hot target
  // under MSE), so the largest label of each set used must be < the OUTPUT size.
  void check_labels(const std::string& which, const std::string& labels, std::uint32_t subset) {
    if (output_.pop == nullptr || output_.pop->size() < 1) return;
    const std::string lp = "data.idx." + which + "_labels";
    std::uint8_t top = 0;
    try {
      top = read_idx_label_max(resolve_data_path(m_, labels), subset);
    } catch (const core::user_error& e) {
      add(lp, e.what());
      return;
    }
    const std::uint32_t classes = std::uint32_t{top} + 1;
    if (output_.pop->size() < classes)
      add(output_.size_path, "the OUTPUT population '" + output_.pop->name() + "' has " +
                                 std::to_string(output_.pop->size()) + " neurons, but " + lp + " holds label " +
                                 std::to_string(top) + " (" + std::to_string(classes) +
                                 " classes, one output neuron each); allowed: at least " + std::to_string(classes));
  }

  void check_data() {
    const v1::Data& d = m_.model.data();
    if (d.has_teacher()) {
      check_teacher(d.teacher());
    } else if (d.has_npy() || d.has_hdf5() || d.has_cifar10()) {
      check_arrays(d);
    } else if (!d.has_idx()) {
      add("data", "no data source; allowed: idx { train_images: ... train_labels: ... test_images: ... test_labels: ... },"
                  " npy { ... }, hdf5 { file: ... images: ... labels: ... }, cifar10 { dir: ... } or teacher { ... }");
    } else {
      const v1::IdxFiles& f = d.idx();
      const std::uint32_t n_train = check_pair("train", f.train_images(), f.train_labels());
      const std::uint32_t n_test = check_pair("test", f.test_images(), f.test_labels());
      for (auto [field, subset, n] : {std::tuple{"train_subset", d.train_subset(), n_train},
                                      std::tuple{"test_subset", d.test_subset(), n_test}}) {
        if (n > 0 && subset > n) {
          add(std::string("data.") + field, std::to_string(subset) + " exceeds the " + std::to_string(n) +
                                                " samples in the files; allowed: 0 (all) to " + std::to_string(n));
        }
      }
      if (n_train > 0 && d.train_subset() <= n_train) check_labels("train", f.train_labels(), d.train_subset());
      if (n_test > 0 && d.test_subset() <= n_test) check_labels("test", f.test_labels(), d.test_subset());
      summary.train_rows = n_train == 0 ? 0 : d.train_subset() ? std::min(d.train_subset(), n_train) : n_train;
      summary.test_rows = n_test == 0 ? 0 : d.test_subset() ? std::min(d.test_subset(), n_test) : n_test;
    }
  }

  // npy, hdf5 and cifar10: headers only (shapes and dtypes); label values are checked on load.
  void check_arrays(const v1::Data& d) {
    for (const bool test : {false, true}) {
      split_shape sh;
      if (!describe_array_split(m_, test, sh, add)) continue;
      const std::string images = d.has_cifar10() ? "data.cifar10.dir"
                                 : d.has_npy()   ? std::string("data.npy.") + (test ? "test" : "train") + "_images"
                                                 : std::string("data.hdf5.") + (test ? "test_images" : "images");
      if (input_ != nullptr && sh.cols != input_->size())
        add(input_size_path_, "the INPUT population '" + input_->name() + "' has size " + std::to_string(input_->size()) +
                                  " but " + images + " holds " + std::to_string(sh.cols) +
                                  " values per sample; allowed: " + std::to_string(sh.cols));
      check_label_classes(sh);
      const std::uint32_t subset = test ? d.test_subset() : d.train_subset();
      if (subset > sh.rows)
        add(std::string("data.") + (test ? "test_subset" : "train_subset"),
            std::to_string(subset) + " exceeds the " + std::to_string(sh.rows) + " samples of " + images +
                "; allowed: 0 (all) to " + std::to_string(sh.rows));
    }
  }

  // With softmax cross-entropy every label must have an output neuron.
  void check_label_classes(const split_shape& sh) {
    if (sh.max_label < 0 || m_.model.rule().loss() == v1::MSE) return;
    const auto& pops = m_.model.populations();
    for (int k = 0; k < pops.size(); ++k)
      if (pops[k].role() == v1::OUTPUT && std::int64_t(pops[k].size()) <= sh.max_label)
        add("populations[" + std::to_string(k) + "].size",
            "the OUTPUT population '" + pops[k].name() + "' has " + std::to_string(pops[k].size()) + " neurons but " +
                sh.labels_field + " holds label " + std::to_string(sh.max_label) + "; allowed: at least " +
                std::to_string(sh.max_label + 1));
  }

  // Synthetic teacher-student data: sizes must fit the network, and it is regression.
  void check_teacher(const v1::Teacher& t) {
    if (t.inputs() < 1) add("data.teacher.inputs", "must be >= 1");
    if (t.outputs() < 1) add("data.teacher.outputs", "must be >= 1");
    if (t.train_samples() < 1) add("data.teacher.train_samples", "must be >= 1");
    summary.train_rows = t.train_samples();
    summary.test_rows = t.test_samples() ? t.test_samples() : t.train_samples();
    summary.cols = std::uint64_t{t.inputs()} + t.outputs();
    if (t.kind() != v1::Teacher::LINEAR && t.width() < 1) add("data.teacher.width", "must be >= 1 for TWO_LAYER");
    if (input_ && t.inputs() >= 1 && input_->size() != t.inputs())
      add(input_size_path_, std::to_string(input_->size()) + " input neurons but data.teacher.inputs is " +
                                std::to_string(t.inputs()) + "; allowed: equal sizes");
    const auto& pops = m_.model.populations();
    for (int k = 0; k < pops.size(); ++k)
      if (pops[k].role() == v1::OUTPUT && t.outputs() >= 1 && pops[k].size() != t.outputs())
        add("populations[" + std::to_string(k) + "].size", std::to_string(pops[k].size()) +
                                                               " output neurons but data.teacher.outputs is " +
                                                               std::to_string(t.outputs()) + "; allowed: equal sizes");
    if (m_.model.rule().loss() != v1::MSE)
      add("rule.loss", "teacher data is regression; allowed: MSE");
    if (t.weights().law() != v1::INIT_UNSPECIFIED && !std::isfinite(t.weights().scale()))
      add("data.teacher.weights.scale", "must be finite");
  }

 data_summary summary;

 private:
  const loaded_model& m_;
  const v1::Population* input_;
  const std::string& input_size_path_;
  const population_ref& output_;
  const report_fn& add;
};

}  // namespace

data_summary check_model_data(const loaded_model& m, const population_ref& input, const population_ref& output,
                              const report_fn& add) {
  data_checker c(m, input, output, add);
  c.check_data();
  return c.summary;
}

}  // namespace phaseless::io
