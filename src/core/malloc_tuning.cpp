#include "cinevault/core/malloc_tuning.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace cinevault {

void cap_malloc_arenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr)
    ::mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
}

}  // namespace cinevault
