-- LuaRocks: `luarocks --lua-version=5.4 make` installs the imapscript Lua modules and their
-- C core so that `require "imapscript"` works from lua5.4. Builds with the Makefile.
package = "imapscript"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/imapscript/imapscript.git",
  tag = "v0.1.0",
}
description = {
  summary = "Scriptable IMAP client: filter, flag and move mail from Lua",
  detailed = [[
    Searches, moves, flags and deletes mail on IMAP servers with pipelined commands,
    server-side searches and PCRE2 regexes on header fields; TLS verified by default;
    runs imapfilter configs. The same API the imapscript program gives its scripts.
  ]],
  license = "MIT",
  homepage = "https://github.com/imapscript/imapscript",
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  OPENSSL = { header = "openssl/ssl.h" },
  PCRE2 = { header = "pcre2.h" },
  ZLIB = { header = "zlib.h" },
  ICU = { header = "unicode/uchar.h" },
  GSASL = { header = "gsasl.h" },
  JANSSON = { header = "jansson.h" },
  SQLITE = { header = "sqlite3.h" },
  -- libcurl too, but Debian keeps curl/curl.h under a multiarch directory luarocks does not
  -- search; the Makefile finds it with pkg-config.
}
build = {
  type = "make",
  build_target = "module",
  build_variables = { B = "build/rock", CFLAGS = "$(CFLAGS)" },
  install_target = "install-module",
  install_variables = { B = "build/rock", LUADIR = "$(LUADIR)", LUACDIR = "$(LIBDIR)" },
}
