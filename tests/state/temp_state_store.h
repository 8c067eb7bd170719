#pragma once
// A test fixture with a fresh SQLite state store in the temp directory and one tenant in it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "state/sqlite_state_store.h"

namespace ward::state {

class TempStateStoreTest : public ::testing::Test {
 protected:
  explicit TempStateStoreTest(std::string name = "ward-test") : name_(std::move(name)) {}
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() / (name_ + "-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    store_ = std::move(*SqliteStateStore::Open(path_.string()));
    ASSERT_TRUE(store_->CreateTenant({tenant_, "T", 1}).ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove(path_);
  }

  std::string name_;
  std::string tenant_ = "0f426e9f-32f5-4686-8aa3-b30aea1a8f78";
  std::filesystem::path path_;
  std::unique_ptr<StateStore> store_;
};

}  // namespace ward::state
