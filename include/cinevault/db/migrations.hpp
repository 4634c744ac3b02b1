// Numbered schema migrations, applied in order inside one transaction each.
#pragma once

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

// The schema version this binary writes (PRAGMA user_version).
int latest_schema_version();
Result<int> current_schema_version(Connection& connection);
// Applies every migration above the file's version. A file newer than the binary is refused.
Result<void> migrate(Connection& connection);

}  // namespace cinevault::db
