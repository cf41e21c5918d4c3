/* repl.c — the -i prompt: on a terminal, line editing, history and tab completion (libedit);
 * everywhere, multi-line chunks continued the way lua5.4 does and values printed. */
#include "repl.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>

#define REPL_HISTORY_MAX 1000

/* The state readline's completion callback needs (it takes no user data). */
static lua_State *completion_L;

/* A line from the user, malloc'd without its newline; NULL at end of input. */
static char *repl_read(bool tty, const char *prompt)
{
    if (tty)
        return readline(prompt);
    fputs(prompt, stdout);
    fflush(stdout);
    size_t cap = 0;
    char *line = NULL;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Calls require("imapscript.complete").candidates(text) and hands readline the strings it
 * returns, one per call (state 0 starts anew). Errors in Lua complete nothing. */
static char *complete_next(const char *text, int state)
{
    static int list_ref = LUA_NOREF;
    static lua_Integer next;
    lua_State *L = completion_L;
    if (state == 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, list_ref);
        list_ref = LUA_NOREF;
        next = 1;
        int top = lua_gettop(L);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "imapscript.complete");
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            lua_getfield(L, -1, "candidates");
            lua_pushstring(L, text);
            lua_pushstring(L, rl_line_buffer ? rl_line_buffer : "");
            if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1))
                list_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        lua_settop(L, top);
    }
    if (list_ref == LUA_NOREF)
        return NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, list_ref);
    lua_rawgeti(L, -1, next++);
    char *out = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 2);
    return out;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1;    /* never fall back to file names */
    return rl_completion_matches(text, complete_next);
}

/* The history file's path under the state directory, malloc'd; NULL when there is none. */
static char *history_path(lua_State *L)
{
    int top = lua_gettop(L);
    char *path = NULL;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "imapscript.paths");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "state_dir");
        lua_pushboolean(L, 1);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_isstring(L, -1)) {
            const char *dir = lua_tostring(L, -1);
            size_t n = strlen(dir) + sizeof "/history";
            path = malloc(n);
            if (path)
                snprintf(path, n, "%s/history", dir);
        }
    }
    lua_settop(L, top);
    return path;
}

/* Lines that may carry a secret stay out of the history file. */
static bool history_keeps(const char *line)
{
    static const char *const words[] = { "password", "oauth2", "secret", "token", NULL };
    for (int i = 0; words[i]; i++)
        if (strcasestr(line, words[i]))
            return false;
    return true;
}

/* Writes the history through a file created 0600, so it is never readable by others. */
static void history_save(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    fchmod(fd, 0600);
    close(fd);
    stifle_history(REPL_HISTORY_MAX);
    write_history(path);
}

/* Compiles the chunk in b as lua5.4 does: first as `return CHUNK` (an expression to print;
 * "=expr" is the old spelling), else as statements. Returns the load status; an incomplete
 * chunk (more lines needed) gives *incomplete = true. Pushes the function or the message. */
static int repl_load(lua_State *L, const char *chunk, bool *incomplete)
{
    *incomplete = false;
    const char *expr = chunk[0] == '=' ? chunk + 1 : chunk;
    lua_pushfstring(L, "return %s;", expr);
    int st = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
    lua_remove(L, -2);
    if (st == LUA_OK)
        return st;
    lua_pop(L, 1);
    st = luaL_loadbuffer(L, chunk, strlen(chunk), "=stdin");
    if (st == LUA_ERRSYNTAX) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        static const char eof[] = "<eof>";
        *incomplete = len >= sizeof eof - 1 && !strcmp(msg + len - (sizeof eof - 1), eof);
    }
    return st;
}

/* Appends line to *buf (a growing chunk), separated by a newline. 0, or -1 out of memory. */
static int chunk_append(char **buf, const char *line)
{
    size_t old = *buf ? strlen(*buf) : 0, n = strlen(line);
    char *b = realloc(*buf, old + n + 2);
    if (!b)
        return -1;
    if (old)
        b[old++] = '\n';
    memcpy(b + old, line, n + 1);
    *buf = b;
    return 0;
}

/* Runs the function on top of the stack and prints what it returns (tab-separated). */
static void repl_call(lua_State *L, lua_CFunction msgh)
{
    int base = lua_gettop(L);
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    if (lua_pcall(L, 0, LUA_MULTRET, base) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        lua_settop(L, base - 1);
        return;
    }
    int top = lua_gettop(L);
    for (int i = base + 1; i <= top; i++) {
        fputs(luaL_tolstring(L, i, NULL), stdout);
        lua_pop(L, 1);
        fputs(i < top ? "\t" : "\n", stdout);
    }
    fflush(stdout);
    lua_settop(L, base - 1);
}

void repl_run(lua_State *L, lua_CFunction msgh)
{
    bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    char *hist = NULL;
    if (tty) {
        completion_L = L;
        rl_readline_name = "imapscript";
        rl_attempted_completion_function = complete;
        /* '.', ':', '[' and '"' stay inside the word: "acct:mo", "acct[\"Lists/lu" complete. */
        rl_completer_word_break_characters = " \t\n'><=;|&{(,+-*/%^~#)";
        hist = history_path(L);
        using_history();
        if (hist)
            read_history(hist);
    }
    char *chunk = NULL;
    char *line;
    while ((line = repl_read(tty, chunk ? ">> " : "imapscript> "))) {
        if (!chunk && !line[0]) {
            free(line);
            continue;
        }
        int rc = chunk_append(&chunk, line);
        free(line);
        if (rc < 0) {
            fprintf(stderr, "imapscript: out of memory\n");
            break;
        }
        bool incomplete;
        int st = repl_load(L, chunk, &incomplete);
        if (incomplete) {
            lua_pop(L, 1);
            continue;                       /* read the next line into the same chunk */
        }
        if (tty && history_keeps(chunk))
            add_history(chunk);
        free(chunk);
        chunk = NULL;
        if (st != LUA_OK) {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
            continue;
        }
        repl_call(L, msgh);
    }
    free(chunk);
    fputs("\n", stdout);
    if (hist)
        history_save(hist);
    free(hist);
}
