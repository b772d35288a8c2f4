#include "sim/core/executor.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <latch>
#include <vector>

namespace phaseless::core {

struct executor::pool {
  explicit pool(unsigned n) : threads(n) {}
  boost::asio::thread_pool threads;
};

executor::executor(unsigned threads) : threads_(threads == 0 ? 1 : threads) {
  // The calling thread runs one share itself, so the pool needs one thread fewer.
  if (threads_ > 1) pool_ = std::make_unique<pool>(threads_ - 1);
}

executor::~executor() {
  if (pool_) pool_->threads.join();
}

void executor::parallel_for(unsigned n, const std::function<void(unsigned)>& f) {
  std::vector<std::exception_ptr> errors(n);
  auto run = [&](unsigned i) {
    try {
      f(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  if (!pool_ || n <= 1) {
    for (unsigned i = 0; i < n; ++i) run(i);
  } else {
    std::latch done(static_cast<std::ptrdiff_t>(n - 1));
    for (unsigned i = 1; i < n; ++i)
      boost::asio::post(pool_->threads, [&, i] {
        run(i);
        done.count_down();
      });
    run(0);
    done.wait();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace phaseless::core
