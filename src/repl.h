/* repl.h — the interactive prompt of `imapscript -i` (repl.c), part of the program only:
 * the Lua module for the stock interpreter has no need of it. */
#ifndef IMAPSCRIPT_REPL_H
#define IMAPSCRIPT_REPL_H

#include <lua.h>

/* Reads chunks from stdin until its end and runs them in L, printing their values; errors go
 * through msgh (the program's message handler) and are printed, never fatal. On a terminal:
 * line editing, history in the state directory (mode 0600; lines naming a password, token or
 * secret are left out) and tab completion from lua/imapscript/complete.lua. */
void repl_run(lua_State *L, lua_CFunction msgh);

#endif
