#include "common/markup.h"

#include <gtest/gtest.h>

namespace ward {
namespace {

TEST(Markup, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(EscapeMarkup(""), "");
  EXPECT_EQ(EscapeMarkup("plain text"), "plain text");
  EXPECT_EQ(EscapeMarkup("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;");
  EXPECT_EQ(EscapeMarkup("&amp;"), "&amp;amp;");  // not idempotent: escape once
  EXPECT_EQ(EscapeMarkup("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");  // UTF-8 passes through
}

}  // namespace
}  // namespace ward
