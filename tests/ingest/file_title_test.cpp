// Titles from file names, as a library folder holds them.
#include "cinevault/ingest/file_title.hpp"

#include <gtest/gtest.h>

namespace cinevault::ingest {
namespace {

TEST(FileTitle, ReleaseNamesBecomeTitleAndYear) {
  EXPECT_EQ(title_from_file_name("Holiday.2019.1080p.x264.mkv"), "Holiday (2019)");
  EXPECT_EQ(title_from_file_name("The.Matrix.1999.1080p.BluRay.x264-GROUP.mkv"), "The Matrix (1999)");
  EXPECT_EQ(title_from_file_name("Blade Runner 2049 (2017) [2160p HDR].mp4"), "Blade Runner 2049 (2017)");
  EXPECT_EQ(title_from_file_name("/srv/films/Amelie_2001_720p_h.264.mp4"), "Amelie (2001)");
  EXPECT_EQ(title_from_file_name("Some.Show.WEB-DL.H.264.mkv"), "Some Show") << "no year: cut at the first tag";
  EXPECT_EQ(title_from_file_name("Holiday - 2019 - 1080p.mkv"), "Holiday (2019)");
  EXPECT_EQ(title_from_file_name("Blade.Runner.2049.2017.1080p.mkv"), "Blade Runner 2049 (2017)");
  EXPECT_EQ(title_from_file_name("2001.A.Space.Odyssey.1968.mkv"), "2001 A Space Odyssey (1968)");
}

TEST(FileTitle, PeoplesAndCamerasNamesStayReadable) {
  EXPECT_EQ(title_from_file_name("our_wedding.mp4"), "our wedding");
  EXPECT_EQ(title_from_file_name("IMG_1234.MOV"), "IMG 1234");
  EXPECT_EQ(title_from_file_name("2019 summer.mp4"), "2019 summer") << "a year first is part of the title";
  EXPECT_EQ(title_from_file_name("C:\\Videos\\clip.final.v2.mp4"), "clip final v2");
}

TEST(FileTitle, NeverEmpty) {
  EXPECT_EQ(title_from_file_name(""), "Untitled");
  EXPECT_EQ(title_from_file_name(".mp4"), "mp4");
  EXPECT_EQ(title_from_file_name("___.mkv"), "___");
  EXPECT_EQ(title_from_file_name("1080p.mkv"), "1080p") << "the first word is never a tag";
}

}  // namespace
}  // namespace cinevault::ingest
