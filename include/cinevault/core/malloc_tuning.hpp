// How glibc's malloc is set up in cinevault's two processes, the daemon and the media worker.
#pragma once

namespace cinevault {

// One malloc arena per core (at least two) instead of glibc's eight per core: both processes
// allocate on some threads and free on others, and every extra arena keeps its own freed
// memory. MALLOC_ARENA_MAX in the environment still decides when it is set.
void cap_malloc_arenas();

}  // namespace cinevault
