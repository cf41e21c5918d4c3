/* lua_message.h — Lua tables for what the server tells about messages and mailboxes:
 * FETCH results (envelope, flags, header text), flag and attribute arrays. Used by lua_conn.c,
 * lua_handle.c and lua_commands.c. */
#ifndef IMAPSCRIPT_LUA_MESSAGE_H
#define IMAPSCRIPT_LUA_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <lua.h>

#include "decode.h"

/* Pushes a string, or nil for NULL. */
void lua_message_pushstr(lua_State *L, const char *s);
/* Pushes an unsigned counter as an integer (a float beyond 2^63-1: MODSEQ may go there). */
void lua_message_pushu64(lua_State *L, uint64_t n);
/* Pushes an array of the strings/atoms in an IMAP list value (flags, capabilities);
 * an empty table for NULL or a non-list. */
void lua_message_pushlist(lua_State *L, const struct imap_value *list);
/* Pushes an array of n C strings (flags, LIST attributes). */
void lua_message_pushstrv(lua_State *L, char *const *v, size_t n);

/* Pushes the message table for one FETCH response:
 * {uid=, seq=, flags={...}, size=, internaldate=, modseq=, envelope={...}, header=, fields=,
 * body=, raw=, bodystructure={...}, sections={["1.2"] = bytes}, binary={["1.2"] = true} (the
 * sections that came decoded, BINARY[1.2]), labels={...}, gm_msgid=, gm_thrid=, preview=
 * (PREVIEW or SNIPPET), preview_source= (BODY[]<0>: the start of the message)},
 * each field present only when the server sent that item. The arena holds decoding scratch
 * (the envelope); the caller resets it. A malformed ENVELOPE is left out, not raised. */
void lua_message_push(lua_State *L, const struct imap_fetch *f, struct arena *scratch);

/* Pops the value on top into the field of the table below it that a body section item goes to
 * (name "BODY" or "BINARY", section, origin -1 or <n>): raw, header, body, fields,
 * preview_source, sections[sec] (and binary[sec] = true for BINARY). False (popped all the
 * same) when the item has no field. */
bool lua_message_setsection(lua_State *L, const char *name, const char *section, int64_t origin);

/* Pushes {date=, subject=, from={{name=, mailbox=, host=}, ...}, sender=, reply_to=, to=, cc=,
 * bcc=, in_reply_to=, message_id=}; address lists are always arrays (empty for NIL). */
void lua_message_pushenvelope(lua_State *L, const struct imap_envelope *e);

/* Pushes a BODYSTRUCTURE as the table of its top part (lua_body.c): {type=, subtype=, part=,
 * params={...}, id=, description=, encoding=, size=, lines=, md5=, disposition=,
 * disposition_params={...}, filename=, language={...}, location=, envelope=, index=,
 * children={...}}; type and subtype lower-case, part the section number ("1.2"; none for a
 * multipart that is a whole message), parameter values decoded to UTF-8 (RFC 2231, 2047). */
void lua_message_pushbody(lua_State *L, const struct imap_body *b);
#endif
