#include "cinevault/core/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cinevault {
namespace {

TEST(Config, DefaultsListenOnLoopback8080) {
  Config config;
  EXPECT_EQ(split_listen(config.http.listen)->host, "127.0.0.1");
  EXPECT_EQ(split_listen(config.http.listen)->port, 8080);
  EXPECT_EQ(config.data_dir, "data");
}

TEST(Config, FileValuesOverrideDefaults) {
  Config config;
  auto applied = apply_config_json(config, nlohmann::json::parse(R"({"http": {"max_connections": 7}, "data_dir": "/srv/cv"})"));
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(config.http.max_connections, 7);
  EXPECT_EQ(config.data_dir, "/srv/cv");
}

TEST(Config, UnknownKeyIsNamedInTheError) {
  Config config;
  auto applied = apply_config_json(config, nlohmann::json::parse(R"({"http": {"max_conections": 7}})"));
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("http.max_conections"), std::string::npos) << applied.error().message;
}

TEST(Config, BadValueIsNamedInTheError) {
  Config config;
  auto wrong_type = apply_config_json(config, nlohmann::json::parse(R"({"http": {"io_threads": "two"}})"));
  ASSERT_FALSE(wrong_type);
  EXPECT_NE(wrong_type.error().message.find("http.io_threads"), std::string::npos);
  auto out_of_range = apply_config_value(config, "http.io_threads", "257");
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().message.find("http.io_threads"), std::string::npos);
  auto bad_listen = apply_config_value(config, "http.listen", "localhost");
  ASSERT_FALSE(bad_listen);
  EXPECT_NE(bad_listen.error().message.find("http.listen"), std::string::npos);
}

TEST(Config, FlagValuesAreTyped) {
  Config config;
  ASSERT_TRUE(apply_config_value(config, "auth.require_key_for_reads", "true"));
  EXPECT_TRUE(config.auth.require_key_for_reads);
  ASSERT_TRUE(apply_config_value(config, "media.max_duration_s", "90.5"));
  EXPECT_DOUBLE_EQ(config.media.max_duration_s, 90.5);
  ASSERT_TRUE(apply_config_value(config, "http.listen", "0.0.0.0:9000"));
  EXPECT_EQ(split_listen(config.http.listen)->port, 9000);
  EXPECT_FALSE(apply_config_value(config, "auth.require_key_for_reads", "yes"));
}

TEST(Config, JsonRoundTripCoversEveryKey) {
  Config config;
  config.http.idle_timeout_s = 5;
  auto document = config_to_json(config);
  Config copy;
  ASSERT_TRUE(apply_config_json(copy, document));
  EXPECT_EQ(config_to_json(copy), document);
  std::size_t leaves = 0;
  for (auto& [section, value] : document.items()) leaves += value.is_object() ? value.size() : 1;
  EXPECT_EQ(leaves, config_keys().size());
}

}  // namespace
}  // namespace cinevault
