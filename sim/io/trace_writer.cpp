// HDF5 trace writer. Layout and crash-safety contract: docs/trace-format.md.
//
// Why not SWMR: HDF5 1.10's SWMR needs the v3 superblock, whose "open for writing"
// flags stay set when the writer is SIGKILLed, and h5dump/h5py then refuse the file
// until `h5clear -s`. Instead the file uses the 1.8 format (no such flags) and the
// metadata cache never evicts, so on-disk metadata changes only inside flush(): between
// flushes the file on disk is the last flushed file plus raw data nobody references yet.
#include "sim/io/trace_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <stdexcept>
#include <system_error>

#include "sim/core/errors.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/trace_reader.hpp"
#include "sim/io/utf8.hpp"

namespace phaseless::io {
namespace {

namespace fs = std::filesystem;

// Raw-data chunk target: large enough that the chunk index stays small, small enough
// that one append rewrites little.
constexpr hsize_t chunk_bytes = 64 * 1024;

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// The constructor's user-facing checks, so a bad --out path fails with a plain reason
// rather than HDF5's error stack.
void check_target(const fs::path& file, const std::vector<named_path>& inputs, bool force) {
  const auto fail = [&](const std::string& why) {
    throw core::user_error("cannot create trace '" + file.string() + "': " + why);
  };
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail("folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) fail("'" + dir.string() + "' is not a folder");
  if (file.filename().empty() || file.filename() == "." || file.filename() == "..") fail("it is a folder");
  check_replaceable(file, "trace", inputs, force, is_trace);
  // The trace is written beside the target and renamed into place: the folder must be writable.
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    fail("folder '" + dir.string() + "' is not writable: " + errno_text(errno));
}

void check_name(const fs::path& file, const char* what, const std::string& name) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos)
    throw core::user_error("trace '" + file.string() + "': " + what + " name '" + name +
                           "' cannot be stored (it must be non-empty and contain no '/')");
}

// One appendable dataset: extent [rows, row...], grown along the first dimension only.
struct series {
  h5::handle ds;
  hid_t mem_type = H5I_INVALID_HID;
  std::vector<hsize_t> row;   // dims after the first; empty for 1-D
  hsize_t rows = 0;
  std::string path;           // for messages
  std::size_t row_size() const {
    std::size_t n = 1;
    for (hsize_t d : row) n *= static_cast<std::size_t>(d);
    return n;
  }
};

struct projection_sets {
  series samples, data, bias;
  bool has_bias = false;
};

struct report_sets {
  series samples, ticks, data;
  h5::handle time;              // SONATA mapping/time [start, stop, step], compact (see add_report)
  std::uint64_t step = 1, start = 0;
};

// Metrics columns in file order; append_metrics fills them in this order.
struct metric_column {
  const char* name;
  hid_t (*file_type)();
  hid_t (*mem_type)();
};
const std::array<metric_column, 8> metric_columns = {{
    {"samples", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"ticks", [] { return H5T_STD_I64LE; }, [] { return H5T_NATIVE_INT64; }},
    {"train_loss", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"test_accuracy", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"test_loss", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"events", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"synaptic_ops", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"wall_time", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
}};

}  // namespace

struct trace_writer::impl {
  fs::path file;       // the target path
  fs::path partial;    // where the file is written until the first flush renames it to `file`
  output_lock lock;    // held from construction to close
  bool published = false;
  std::string where;   // "trace 'PATH'", the prefix of every runtime error
  h5::handle f;
  std::array<series, metric_columns.size()> metrics;
  std::vector<series> extra_metrics;   // add_metric, in order
  std::map<std::string, projection_sets> projections;
  std::map<std::string, report_sets> reports;
  std::map<std::string, std::vector<series>> tables;   // add_table, by path
  hid_t real_type = H5T_IEEE_F32LE;    // weights, biases, reports: the run's precision
  std::size_t real_bytes = 4;
  bool provenance_written = false;
  bool streaming = false;
  bool closed = false;

  std::string at(const std::string& what) const { return where + ": cannot " + what; }

  // A write that hits a full disk can leave an HDF5 file unreadable, so the writer
  // stops before that: when the next append (plus room for metadata and the final
  // close) would not fit, it flushes, closes the file cleanly and throws io_error.
  // The trace then holds everything up to the last complete append.
  void ensure_space(std::uintmax_t bytes, trace_writer& self) {
    constexpr std::uintmax_t headroom = 4u << 20;   // metadata, chunk index, close
    std::error_code ec;
    const auto sp = fs::space(file.parent_path().empty() ? fs::path(".") : file.parent_path(), ec);
    if (ec || sp.available >= bytes + headroom) return;
    const std::string left = where + ": only " + std::to_string(sp.available >> 10) +
                             " KiB left on its disk (" + std::to_string((bytes + headroom) >> 10) + " KiB needed); ";
    if (!published) {
      abandon();
      throw core::io_error(left + "stopped before writing it, and left whatever was at that path untouched");
    }
    self.close();
    throw core::io_error(left + "stopped writing before the disk filled, and closed the trace (it holds "
                         "everything recorded so far)");
  }

  // Puts the file at its path (the first flush). A reader of the path sees a complete,
  // flushed trace from then on; before it, whatever was there before.
  void publish() {
    if (published) return;
    if (std::rename(partial.c_str(), file.c_str()) != 0)
      throw core::io_error(where + ": cannot rename '" + partial.string() + "' to it: " + errno_text(errno));
    published = true;
  }

  // The error path before the first flush: drop the partial file, keep the target as it was.
  void abandon() noexcept {
    if (closed) return;
    closed = true;
    close_handles();
    std::error_code ignored;
    if (!published) fs::remove(partial, ignored);
    lock.release();
  }

  // Closes every dataset and the file; returns the first failure ("" if none).
  std::string close_handles() noexcept;

  [[noreturn]] void bug(const std::string& what) const {
    throw core::internal_error("trace_writer (" + file.string() + "): " + what);
  }
  void require_structure_phase(const char* call) const {
    if (closed) bug(std::string(call) + " after close()");
    if (streaming) bug(std::string(call) + " after start_streaming()");
  }

  // Object creation properties shared by groups and datasets: no timestamps, so two
  // identical runs differ in as few bytes as possible.
  h5::handle creation_plist(hid_t cls, const std::string& path) const {
    h5::handle p = h5::own(H5Pcreate(cls), H5Pclose, at("create " + path));
    h5::check(H5Pset_obj_track_times(p.get(), false), at("create " + path));
    return p;
  }

  h5::handle group(hid_t loc, const std::string& name, const std::string& path) const {
    h5::handle gcpl = creation_plist(H5P_GROUP_CREATE, path);
    return h5::own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                   H5Gclose, at("create group " + path));
  }

  void attr_raw(hid_t obj, const char* name, hid_t file_type, hid_t mem_type,
                const std::vector<hsize_t>& dims, const void* value) const {
    const std::string what = at(std::string("write attribute ") + name);
    h5::handle space = h5::own(dims.empty() ? H5Screate(H5S_SCALAR)
                                            : H5Screate_simple(static_cast<int>(dims.size()),
                                                               dims.data(), nullptr),
                               H5Sclose, what);
    h5::handle a = h5::own(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                           H5Aclose, what);
    h5::check(H5Awrite(a.get(), mem_type, value), what);
  }
  // Strings are stored as UTF-8 (the type says so): other bytes (a Latin-1 file name in
  // the command line) are transcoded as Latin-1.
  void attr(hid_t obj, const char* name, const std::string& text) const {
    h5::handle t = utf8_type();
    const std::string value = utf8::from_utf8_or_latin1(text);
    const char* p = value.c_str();
    attr_raw(obj, name, t.get(), t.get(), {}, &p);
  }
  void attr(hid_t obj, const char* name, std::uint32_t v) const {
    attr_raw(obj, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, {}, &v);
  }
  void attr(hid_t obj, const char* name, std::uint64_t v) const {
    attr_raw(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {}, &v);
  }

  h5::handle utf8_type() const {
    h5::handle t = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, at("make string type"));
    h5::check(H5Tset_size(t.get(), H5T_VARIABLE), at("make string type"));
    h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), at("make string type"));
    return t;
  }

  void string_dataset(hid_t loc, const char* name, const std::string& text) const {
    const std::string value = utf8::from_utf8_or_latin1(text);
    const std::string what = at(std::string("write /provenance/") + name);
    h5::handle t = utf8_type();
    h5::handle space = h5::own(H5Screate(H5S_SCALAR), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, name);
    h5::handle ds = h5::own(
        H5Dcreate2(loc, name, t.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        H5Dclose, what);
    const char* p = value.c_str();
    h5::check(H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), what);
  }

  // Fixed-size dataset written once (report mappings).
  void fixed_dataset(hid_t loc, const std::string& name, const std::string& path, hid_t file_type,
                     hid_t mem_type, hsize_t n, const void* data) const {
    const std::string what = at("write " + path);
    h5::handle space = h5::own(H5Screate_simple(1, &n, nullptr), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, path);
    h5::handle ds = h5::own(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                       dcpl.get(), H5P_DEFAULT),
                            H5Dclose, what);
    if (n > 0) h5::check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), what);
  }

  // Creates an empty chunked dataset [0, row...] with an unlimited first dimension.
  // chunk_rows = 0 picks rows so that a chunk holds about chunk_bytes.
  series appendable(hid_t loc, const std::string& name, const std::string& path, hid_t file_type,
                    hid_t mem_type, std::vector<hsize_t> row, hsize_t chunk_rows = 0) const {
    series s;
    s.mem_type = mem_type;
    s.row = std::move(row);
    s.path = path;
    const std::string what = at("create " + path);
    std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{chunk_rows};
    for (hsize_t d : s.row) {
      dims.push_back(d);
      max.push_back(d);
      chunk.push_back(d);
    }
    if (chunk_rows == 0) {
      const hsize_t row_bytes = s.row_size() * H5Tget_size(file_type);
      chunk[0] = std::max<hsize_t>(1, chunk_bytes / std::max<hsize_t>(1, row_bytes));
    }
    const int rank = static_cast<int>(dims.size());
    h5::handle space = h5::own(H5Screate_simple(rank, dims.data(), max.data()), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, path);
    h5::check(H5Pset_chunk(dcpl.get(), rank, chunk.data()), what);
    s.ds = h5::own(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                              H5P_DEFAULT),
                   H5Dclose, what);
    return s;
  }

  // The public appends: the first one freezes the structure (implicit start_streaming).
  void append(series& s, const void* data, hsize_t rows) {
    if (closed) bug("append to " + s.path + " after close()");
    if (!streaming) start_streaming();
    write_rows(s, data, rows);
  }

  // Grows s by `rows` rows and writes them; data holds rows * row_size() values.
  void write_rows(series& s, const void* data, hsize_t rows) const {
    const std::string what = at("append to " + s.path);
    std::vector<hsize_t> start{s.rows}, count{rows}, total{s.rows + rows};
    for (hsize_t d : s.row) {
      start.push_back(0);
      count.push_back(d);
      total.push_back(d);
    }
    h5::check(H5Dset_extent(s.ds.get(), total.data()), what);
    h5::handle fspace = h5::own(H5Dget_space(s.ds.get()), H5Sclose, what);
    h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                                  nullptr),
              what);
    const int rank = static_cast<int>(count.size());
    h5::handle mspace = h5::own(H5Screate_simple(rank, count.data(), nullptr), H5Sclose, what);
    if (rows > 0)
      h5::check(H5Dwrite(s.ds.get(), s.mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data),
                what);
    s.rows += rows;
  }

  void start_streaming() {
    if (closed) bug("start_streaming() after close()");
    if (streaming) return;
    streaming = true;
    // Puts the complete structure on disk: from here on a killed run always leaves
    // every group and dataset readable, with whatever rows were flushed.
    h5::check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), at("flush"));
  }
};

trace_writer::trace_writer(const std::filesystem::path& file, const std::vector<named_path>& inputs, bool force)
    : impl_(std::make_unique<impl>()) {
  h5::quiet_errors();
  check_target(file, inputs, force);
  impl& m = *impl_;
  m.file = file;
  m.partial = partial_path(file);
  m.where = "trace '" + file.string() + "'";
  m.lock = output_lock(file, "trace");
  try {
    create(m);
  } catch (...) {
    m.abandon();
    throw;
  }
}

void trace_writer::create(impl& m) {
  const fs::path& file = m.file;
  const std::string create = "cannot create trace '" + file.string() + "'";
  h5::handle fapl = h5::file_access_plist(create);
  // 1.8 format: its superblock has no "open for writing" flags (see the top comment).
  h5::check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), create);
  h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), create);
  // Metadata reaches the disk only in flush()/close(): no evictions, hence no
  // half-updated chunk indexes if we are killed between flushes. The cache grows with
  // the metadata instead, which stays small (about 1% of the raw data).
  H5AC_cache_config_t mdc{};
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  h5::check(H5Pget_mdc_config(fapl.get(), &mdc), create);
  mdc.evictions_enabled = false;
  mdc.incr_mode = H5C_incr__off;
  mdc.flash_incr_mode = H5C_flash_incr__off;
  mdc.decr_mode = H5C_decr__off;
  h5::check(H5Pset_mdc_config(fapl.get(), &mdc), create);
  // File space is handed out from large blocks, and every flush extends the file to the
  // end of the current block. Raw data (written first in a flush) then usually lands
  // below the end-of-file recorded on disk, so a kill in the middle of a flush's
  // metadata writes does not leave indexes pointing past it ("addr overflow").
  h5::check(H5Pset_small_data_block_size(fapl.get(), hsize_t{4} << 20), create);
  h5::check(H5Pset_meta_block_size(fapl.get(), hsize_t{1} << 20), create);

  // A leftover of a killed run (we hold the lock, so no live run writes it).
  std::error_code ignored;
  std::filesystem::remove(m.partial, ignored);
  m.ensure_space(64 << 10, *this);
  const hid_t id = H5Fcreate(m.partial.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (id < 0) throw core::user_error(create + ": cannot create '" + m.partial.string() + "': " + h5::error_text());
  m.f = h5::handle(id, H5Fclose);
  // H5Fcreate has written a superblock that points at a root group not yet on disk:
  // flush at once so the file is valid from here on (an empty HDF5 file).
  h5::check(H5Fflush(id, H5F_SCOPE_GLOBAL), m.at("flush"));

  const hid_t root = m.f.get();
  const std::uint32_t version[2] = {0, 1};
  m.attr(root, "magic", std::uint32_t{0x0A7A});
  m.attr_raw(root, "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, {2}, version);
  m.attr(root, "format", std::string("phaseless-trace"));
  m.attr(root, "format_version", std::uint32_t{2});
  m.attr(root, "time_units", std::string("tick"));

  h5::handle metrics = m.group(root, "metrics", "/metrics");
  for (std::size_t i = 0; i < metric_columns.size(); ++i) {
    const auto& c = metric_columns[i];
    m.metrics[i] = m.appendable(metrics.get(), c.name, std::string("/metrics/") + c.name,
                                c.file_type(), c.mem_type(), {});
  }
  m.group(root, "weights", "/weights");
  m.group(root, "report", "/report");
  h5::check(H5Fflush(root, H5F_SCOPE_GLOBAL), m.at("flush"));
}

trace_writer::~trace_writer() {
  try {
    // Destroyed before the first flush: an error path (the run never got going); the
    // old file at the path stays. Afterwards: close, keeping everything appended.
    if (!impl_->published) impl_->abandon();
    close();
  } catch (const std::exception& e) {
    // A destructor cannot throw, but a trace that failed to reach the disk must not
    // go unnoticed: callers that care call close() themselves and get the exception.
    std::cerr << "phaseless: " << e.what() << '\n';
  }
}

void trace_writer::set_value_type(value_type t) {
  impl& m = *impl_;
  m.require_structure_phase("set_value_type()");
  if (!m.projections.empty() || !m.reports.empty()) m.bug("set_value_type() after add_projection/add_report");
  m.real_type = t == value_type::f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
  m.real_bytes = t == value_type::f64 ? 8 : 4;
}

void trace_writer::write_provenance(const provenance& p) {
  impl& m = *impl_;
  m.require_structure_phase("write_provenance()");
  if (m.provenance_written) m.bug("write_provenance() called twice");
  m.provenance_written = true;
  m.ensure_space(8 * p.sample_order.size() + p.model_text.size() + p.effective_model.size() +
                     p.overrides.size() + p.command_line.size() + (64 << 10),
                 *this);
  h5::handle g = m.group(m.f.get(), "provenance", "/provenance");
  m.attr(g.get(), "seed", p.seed);
  m.attr(g.get(), "software_version", p.software_version);
  m.attr(g.get(), "git_commit", p.git_commit);
  m.attr(g.get(), "threads", p.threads);
  m.attr(g.get(), "model_name", p.model_name);
  m.attr(g.get(), "command_line", p.command_line);
  m.string_dataset(g.get(), "model_text", p.model_text);
  m.string_dataset(g.get(), "effective_model", p.effective_model);
  m.string_dataset(g.get(), "overrides", p.overrides);
  series order = m.appendable(g.get(), "sample_order", "/provenance/sample_order", H5T_STD_U64LE,
                              H5T_NATIVE_UINT64, {});
  m.write_rows(order, p.sample_order.data(), p.sample_order.size());
}

void trace_writer::add_projection(const std::string& name, const std::string& pre,
                                  const std::string& post, std::uint32_t n_post,
                                  std::uint32_t n_pre, bool bias) {
  impl& m = *impl_;
  m.require_structure_phase("add_projection()");
  check_name(m.file, "projection", name);
  if (m.projections.count(name) != 0) m.bug("projection '" + name + "' added twice");
  if (n_post == 0 || n_pre == 0) m.bug("projection '" + name + "' has an empty weight matrix");
  const std::string base = "/weights/" + name;
  h5::handle weights = h5::own(H5Gopen2(m.f.get(), "weights", H5P_DEFAULT), H5Gclose,
                               m.at("open /weights"));
  h5::handle g = m.group(weights.get(), name, base);
  m.attr(g.get(), "pre", pre);
  m.attr(g.get(), "post", post);
  h5::handle snaps = m.group(g.get(), "snapshots", base + "/snapshots");
  projection_sets p;
  p.has_bias = bias;
  p.samples = m.appendable(snaps.get(), "samples", base + "/snapshots/samples", H5T_STD_U64LE,
                           H5T_NATIVE_UINT64, {});
  // One snapshot per chunk: a snapshot is written and read as a whole.
  p.data = m.appendable(snaps.get(), "data", base + "/snapshots/data", m.real_type,
                        H5T_NATIVE_DOUBLE, {n_post, n_pre}, 1);
  if (bias)
    p.bias = m.appendable(snaps.get(), "bias", base + "/snapshots/bias", m.real_type,
                          H5T_NATIVE_DOUBLE, {n_post}, 1);
  m.projections.emplace(name, std::move(p));
}

void trace_writer::add_report(const report_spec& r) {
  impl& m = *impl_;
  m.require_structure_phase("add_report()");
  check_name(m.file, "population", r.population);
  if (m.reports.count(r.population) != 0) m.bug("report '" + r.population + "' added twice");
  if (r.nodes == 0 || r.elements.empty()) m.bug("report '" + r.population + "' is empty");
  const std::string base = "/report/" + r.population;
  const hsize_t k = r.elements.size();
  const hsize_t width = hsize_t{r.nodes} * k;
  h5::handle report = h5::own(H5Gopen2(m.f.get(), "report", H5P_DEFAULT), H5Gclose,
                              m.at("open /report"));
  h5::handle g = m.group(report.get(), r.population, base);
  report_sets s;
  s.data = m.appendable(g.get(), "data", base + "/data", m.real_type, H5T_NATIVE_DOUBLE, {width});
  m.attr(s.data.ds.get(), "units", std::string("1"));   // states and errors are dimensionless
  if (r.sample_step == 0) m.bug("report '" + r.population + "' has sample_step 0");
  s.step = r.sample_step;

  h5::handle map = m.group(g.get(), "mapping", base + "/mapping");
  std::string names;
  for (std::size_t i = 0; i < r.elements.size(); ++i) names += (i ? "," : "") + r.elements[i];
  m.attr(map.get(), "element_names", names);
  std::vector<std::uint64_t> node_ids(r.nodes), pointers(r.nodes + std::size_t{1});
  std::vector<std::uint32_t> element_ids(width);
  for (std::uint64_t n = 0; n <= r.nodes; ++n) {
    pointers[n] = n * k;
    if (n == r.nodes) break;
    node_ids[n] = n;   // SONATA: 0-based within the population
    for (std::uint32_t e = 0; e < k; ++e) element_ids[n * k + e] = e;
  }
  m.fixed_dataset(map.get(), "node_ids", base + "/mapping/node_ids", H5T_STD_U64LE,
                  H5T_NATIVE_UINT64, node_ids.size(), node_ids.data());
  {
    h5::handle ids = h5::own(H5Dopen2(map.get(), "node_ids", H5P_DEFAULT), H5Dclose, m.at("open node_ids"));
    const std::int8_t sorted = 1;   // SONATA bool: i8 0/1
    m.attr_raw(ids.get(), "sorted", H5T_STD_I8LE, H5T_NATIVE_INT8, {}, &sorted);
  }
  m.fixed_dataset(map.get(), "index_pointers", base + "/mapping/index_pointers", H5T_STD_U64LE,
                  H5T_NATIVE_UINT64, pointers.size(), pointers.data());
  m.fixed_dataset(map.get(), "element_ids", base + "/mapping/element_ids", H5T_STD_U32LE,
                  H5T_NATIVE_UINT32, element_ids.size(), element_ids.data());
  // SONATA time = [start, stop, step] in samples, stop exclusive: frames = (stop - start) / step.
  // Compact layout keeps its values in the object header, i.e. in metadata, which reaches
  // the disk only with a flush, together with the frames it counts.
  {
    const std::string what = m.at("write " + base + "/mapping/time");
    const hsize_t three = 3;
    h5::handle space = h5::own(H5Screate_simple(1, &three, nullptr), H5Sclose, what);
    h5::handle dcpl = m.creation_plist(H5P_DATASET_CREATE, base + "/mapping/time");
    h5::check(H5Pset_layout(dcpl.get(), H5D_COMPACT), what);
    s.time = h5::own(H5Dcreate2(map.get(), "time", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                H5P_DEFAULT),
                     H5Dclose, what);
    const double empty[3] = {double(s.step), double(s.step), double(s.step)};   // no frames yet
    h5::check(H5Dwrite(s.time.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, empty), what);
    m.attr(s.time.get(), "units", std::string("sample"));
  }
  s.samples = m.appendable(map.get(), "samples", base + "/mapping/samples", H5T_STD_U64LE,
                           H5T_NATIVE_UINT64, {});
  s.ticks = m.appendable(map.get(), "ticks", base + "/mapping/ticks", H5T_STD_I64LE,
                         H5T_NATIVE_INT64, {});
  m.reports.emplace(r.population, std::move(s));
}

void trace_writer::add_metric(const std::string& path) {
  impl& m = *impl_;
  m.require_structure_phase("add_metric");
  std::string at = "/metrics";
  std::size_t from = 0;
  for (std::size_t slash; (slash = path.find('/', from)) != std::string::npos; from = slash + 1) {
    const std::string name = path.substr(from, slash - from);
    const std::string parent = at;
    at += "/" + name;
    h5::handle p = h5::own(H5Gopen2(m.f.get(), parent.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + parent));
    if (H5Lexists(p.get(), name.c_str(), H5P_DEFAULT) <= 0) m.group(p.get(), name, at);
  }
  h5::handle g = h5::own(H5Gopen2(m.f.get(), at.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + at));
  const std::string leaf = path.substr(from);
  m.extra_metrics.push_back(
      m.appendable(g.get(), leaf, at + "/" + leaf, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}));
}

void trace_writer::add_table(const table_spec& t) {
  impl& m = *impl_;
  m.require_structure_phase("add_table()");
  if (t.path.empty() || t.path[0] != '/' || m.tables.count(t.path)) m.bug("add_table: bad or repeated path " + t.path);
  // Opens the group at an absolute path, creating the missing ones along it.
  const auto groups = [&m](const std::string& path) {
    std::string at;
    for (std::size_t from = 1, slash = 0; slash != std::string::npos; from = slash + 1) {
      slash = path.find('/', from);
      const std::string name = path.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
      const std::string parent = at.empty() ? "/" : at;
      at += "/" + name;
      h5::handle p = h5::own(H5Gopen2(m.f.get(), parent.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + parent));
      if (H5Lexists(p.get(), name.c_str(), H5P_DEFAULT) <= 0) m.group(p.get(), name, at);
    }
    return h5::own(H5Gopen2(m.f.get(), path.c_str(), H5P_DEFAULT), H5Gclose, m.at("open " + path));
  };
  h5::handle g = groups(t.path);
  for (const auto& [name, text] : t.text_attrs) m.attr(g.get(), name.c_str(), text);
  for (const auto& [name, v] : t.number_attrs) m.attr(g.get(), name.c_str(), v);
  for (const auto& [name, v] : t.fixed) {
    const auto slash = name.rfind('/');
    h5::handle at = groups(slash == std::string::npos ? t.path : t.path + "/" + name.substr(0, slash));
    m.fixed_dataset(at.get(), name.substr(slash + 1), t.path + "/" + name, H5T_STD_U64LE, H5T_NATIVE_UINT64,
                    v.size(), v.data());
  }
  auto& cols = m.tables[t.path];
  for (const auto& c : t.columns) {
    const bool real = c.kind == column_kind::real;
    const hid_t file_type = real ? m.real_type
                            : c.kind == column_kind::u8  ? H5T_STD_U8LE
                            : c.kind == column_kind::u32 ? H5T_STD_U32LE
                            : c.kind == column_kind::u64 ? H5T_STD_U64LE
                                                         : H5T_STD_I64LE;
    std::vector<hsize_t> row;
    if (c.width) row.push_back(c.width);
    cols.push_back(m.appendable(g.get(), c.name, t.path + "/" + c.name, file_type,
                                real ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, row));
  }
}

void trace_writer::append_table(const std::string& path, std::span<const std::span<const double>> columns,
                                std::uint64_t rows) {
  impl& m = *impl_;
  const auto it = m.tables.find(path);
  if (it == m.tables.end()) m.bug("append_table to unknown table '" + path + "'");
  if (columns.size() != it->second.size()) m.bug("append_table '" + path + "': wrong column count");
  std::uint64_t bytes = 0;
  for (const auto& c : columns) bytes += 8 * c.size();
  m.ensure_space(bytes, *this);
  std::vector<std::int64_t> whole;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    series& s = it->second[c];
    if (columns[c].size() != rows * s.row_size()) m.bug("append_table '" + s.path + "': wrong value count");
    if (s.mem_type == H5T_NATIVE_DOUBLE) {
      m.append(s, columns[c].data(), rows);
      continue;
    }
    whole.assign(columns[c].begin(), columns[c].end());   // exact integers
    m.append(s, whole.data(), rows);
  }
}

void trace_writer::start_streaming() { impl_->start_streaming(); }

void trace_writer::append_metrics(const metrics_row& r) {
  impl& m = *impl_;
  m.ensure_space(8 * (metric_columns.size() + r.extra.size()), *this);
  const void* values[] = {&r.samples, &r.ticks,  &r.train_loss,   &r.test_accuracy,
                          &r.test_loss, &r.events, &r.synaptic_ops, &r.wall_time};
  static_assert(std::size(values) == metric_columns.size());
  for (std::size_t i = 0; i < metric_columns.size(); ++i) m.append(m.metrics[i], values[i], 1);
  if (r.extra.size() != m.extra_metrics.size()) m.bug("append_metrics: extra values do not match add_metric");
  for (std::size_t i = 0; i < r.extra.size(); ++i) m.append(m.extra_metrics[i], &r.extra[i], 1);
}

void trace_writer::append_snapshot(const std::string& projection, std::uint64_t samples,
                                   std::span<const double> w, std::span<const double> b) {
  impl& m = *impl_;
  m.ensure_space(m.real_bytes * (w.size() + b.size()) + 8, *this);
  const auto it = m.projections.find(projection);
  if (it == m.projections.end()) m.bug("append_snapshot to unknown projection '" + projection + "'");
  projection_sets& p = it->second;
  if (w.size() != p.data.row_size())
    m.bug("append_snapshot '" + projection + "': " + std::to_string(w.size()) + " weights, expected " +
          std::to_string(p.data.row_size()));
  const std::size_t want_b = p.has_bias ? p.bias.row_size() : 0;
  if (b.size() != want_b)
    m.bug("append_snapshot '" + projection + "': " + std::to_string(b.size()) + " biases, expected " +
          std::to_string(want_b));
  m.append(p.data, w.data(), 1);
  if (p.has_bias) m.append(p.bias, b.data(), 1);
  m.append(p.samples, &samples, 1);
}

void trace_writer::append_report(const std::string& population, std::uint64_t samples,
                                 std::int64_t tick, std::span<const double> values) {
  impl& m = *impl_;
  m.ensure_space(m.real_bytes * values.size() + 16, *this);
  const auto it = m.reports.find(population);
  if (it == m.reports.end()) m.bug("append_report to unknown population '" + population + "'");
  report_sets& r = it->second;
  if (values.size() != r.data.row_size())
    m.bug("append_report '" + population + "': " + std::to_string(values.size()) +
          " values, expected " + std::to_string(r.data.row_size()));
  if (r.samples.rows == 0) r.start = samples;
  if (samples != r.start + r.samples.rows * r.step)
    m.bug("append_report '" + population + "': frame at sample " + std::to_string(samples) +
          " breaks the step of " + std::to_string(r.step) + " samples");
  m.append(r.data, values.data(), 1);
  m.append(r.ticks, &tick, 1);
  m.append(r.samples, &samples, 1);
  const double time[3] = {double(r.start), double(r.start + r.samples.rows * r.step), double(r.step)};
  h5::check(H5Dwrite(r.time.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, time),
            m.at("write /report/" + population + "/mapping/time"));
}

void trace_writer::flush() {
  impl& m = *impl_;
  if (m.closed) m.bug("flush() after close()");
  h5::check(H5Fflush(m.f.get(), H5F_SCOPE_GLOBAL), m.at("flush"));
  m.publish();
}

std::string trace_writer::impl::close_handles() noexcept {
  // Datasets write their cached chunks when closed, so every close can fail (disk
  // full); close everything anyway and report the first failure.
  std::string first_error;
  const auto close_one = [&](h5::handle& h, const std::string& what) {
    if (h.reset() < 0 && first_error.empty()) first_error = at(what) + ": " + h5::error_text();
  };
  for (series& s : metrics) close_one(s.ds, "close " + s.path);
  for (series& s : extra_metrics) close_one(s.ds, "close " + s.path);
  for (auto& [name, p] : projections) {
    close_one(p.data.ds, "close " + p.data.path);
    close_one(p.bias.ds, "close " + p.bias.path);
    close_one(p.samples.ds, "close " + p.samples.path);
  }
  for (auto& [name, r] : reports) {
    close_one(r.data.ds, "close " + r.data.path);
    close_one(r.ticks.ds, "close " + r.ticks.path);
    close_one(r.samples.ds, "close " + r.samples.path);
    close_one(r.time, "close /report/" + name + "/mapping/time");
  }
  for (auto& [path, cols] : tables)
    for (series& s : cols) close_one(s.ds, "close " + s.path);
  close_one(f, "close the file");
  return first_error;
}

void trace_writer::close() {
  impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  std::string first_error = m.close_handles();
  if (first_error.empty() && !m.published) {   // a run with no flush: its close is the first flush
    try {
      m.publish();
    } catch (const std::exception& e) {
      first_error = e.what();
    }
  }
  if (!m.published) {
    std::error_code ignored;
    fs::remove(m.partial, ignored);
  }
  m.lock.release();
  if (!first_error.empty()) throw core::io_error(first_error);
}

}  // namespace phaseless::io
