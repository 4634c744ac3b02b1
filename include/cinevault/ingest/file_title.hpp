// A video's title from its file's name, for files that carry no title tag: release names
// ("Holiday.2019.1080p.x264.mkv" → "Holiday (2019)"), camera and phone names
// ("IMG_1234.MOV" → "IMG 1234"), people's names for their files ("our_wedding.mp4" →
// "our wedding"). Uploads without a title get theirs from here. Pure: no I/O.
#pragma once

#include <string>
#include <string_view>

namespace cinevault::ingest {

// The name without directories or extension; dots, underscores and spaces separate words.
// What follows the first release tag (resolution, codec, source: "1080p", "x264", "BluRay",
// never the first word) is dropped; so is what follows the year (1900–2099, not the first
// word: the first in parentheses or brackets, else the last bare one before the tags), which
// goes in parentheses after the title. Never empty: falls back to the name, then "Untitled".
std::string title_from_file_name(std::string_view file_name);

}  // namespace cinevault::ingest
