// HDF5 trace writer. Layout and crash-safety contract: docs/trace-format.md.
//
// Why not SWMR: HDF5 1.10's SWMR needs the v3 superblock, whose "open for writing"
// flags stay set when the writer is SIGKILLed, and h5dump/h5py then refuse the file
// until `h5clear -s`. Instead the file uses the 1.8 format (no such flags) and the
// metadata cache never evicts, so on-disk metadata changes only inside flush(): between
// flushes the file on disk is the last flushed file plus raw data nobody references yet.

#include "sim/io/trace_writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <stdexcept>
#include <system_error>

#include "sim/core/errors.hpp"
#include "sim/io/trace_reader.hpp"
#include "sim/io/trace_writer_impl.hpp"

namespace phaseless::io {
namespace {

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

}  // namespace

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