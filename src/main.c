/* main.c — the imapscript program: options, the Lua state, exit codes.
 * Everything else happens in lua/imapscript (policy) and the core it loads. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "repl.h"

int luaopen_imapscript_core(lua_State *L);

/* Exit codes, documented in imapscript(1). */
enum {
    EXIT_DONE = 0, EXIT_SCRIPT = 1, EXIT_USAGE = 2, EXIT_NETWORK = 3, EXIT_AUTH = 4,
    EXIT_BUSY = 5,
};

struct options {
    int dry_run, quiet, verbose, interactive, syslog;
    int imapfilter;              /* --imapfilter: SCRIPT is an imapfilter config */
    int init;                    /* --init: write the starter rules file */
    int default_script;          /* no SCRIPT, -e or -i: run the rules file in the config dir */
    const char *trace, *plan_json;
    const char **exprs;          /* -e chunks, in order */
    int nexprs;
    const char *script;          /* NULL: none */
    int script_index;            /* argv index of the script */
    int authorize;               /* argv index of --oauth2-authorize, 0 when absent */
    const char *sieve;           /* --sieve, --sieve-install, --sieve-remove: "print", ... */
    const char *sieve_name;      /* --name */
    /* the state database and the journal */
    const char *state_dir, *log;
    int no_state;
    int no_cache, cache_stats;   /* --no-cache, --cache-stats */
    int history, undo;           /* --history / --undo [RUN] */
    const char *run;             /* their RUN, NULL for the default */
};

static const char usage_text[] =
    "usage: imapscript [options] [SCRIPT [ARGS...]]\n"
    "Runs a Lua script that filters, flags and moves mail on IMAP servers.\n"
    "\n"
    "  -n, --dry-run       search and fetch, change nothing, print the plan\n"
    "      --plan-json F   also write the plan as JSON lines to F\n"
    "  -q, --quiet         no log lines for completed actions\n"
    "  -v, --verbose       more detail on stderr (-vv: also what each flush cost)\n"
    "      --syslog        log actions to syslog instead of stderr\n"
    "      --trace F       write the wire dialogue to F (passwords shown as ***)\n"
    "  -e CODE             run CODE before the script (several allowed)\n"
    "  -i                  a Lua prompt after the script, on the live accounts\n"
    "      --init          write a starter ~/.config/imapscript/rules.lua (the script\n"
    "                      run when none is given) and exit\n"
    "      --imapfilter    SCRIPT is an imapfilter config (default\n"
    "                      $IMAPFILTER_HOME/config.lua, else ~/.imapfilter/config.lua)\n"
    "      --oauth2-authorize PROVIDER --client-id ID [...]\n"
    "                      get an OAuth2 refresh token (--oauth2-authorize --help)\n"
    "      --sieve         print the Sieve script of SCRIPT's INBOX rules (checked by the\n"
    "                      server) and which rules stay with the IMAP run; change nothing\n"
    "      --sieve-install install it with ManageSieve, the active script still running\n"
    "      --sieve-remove  deactivate and delete it\n"
    "      --name NAME     the Sieve script's name on the server (default imapscript)\n"
    "      --log F         append one JSON line per message acted on to F\n"
    "      --state DIR     keep the state database (journal) in DIR\n"
    "      --no-state      no state database: no journal, no resolution, no undo\n"
    "      --no-cache      keep nothing between runs for incremental runs (mailbox\n"
    "                      state, header fields): ask the server for everything\n"
    "      --cache-stats   show what the cache holds, per account and mailbox\n"
    "      --history [RUN] list the runs in the journal (with RUN: its actions)\n"
    "      --undo [RUN]    reverse RUN (default: the last one not undone); with -n,\n"
    "                      print the plan; SCRIPT, if given, holds the accounts\n"
    "      --version       print the version and exit\n"
    "  -h, --help          print this help and exit\n"
    "\n"
    "Exit status: 0 done, 1 script error, 2 usage, 3 network or TLS failure (with a\n"
    "line per action: done, not done, unknown), 4 authentication failure, 5 another\n"
    "run kept the account busy. See imapscript(1) and imapscript-api(5).\n";

/* "<3>" when stderr is the journal (systemd sets JOURNAL_STREAM to its device:inode), so
 * that errors keep their priority there; "" otherwise. */
static const char *err_prefix = "";

static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* An error line on stderr: "imapscript: MSG". */
static void print_error(const char *msg)
{
    fprintf(stderr, "%simapscript: %s\n", err_prefix, msg);
}

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "%simapscript: ", err_prefix);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'imapscript --help'.\n");
    return EXIT_USAGE;
}

/* Fills o from argv; returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    o->exprs = calloc((size_t)argc, sizeof *o->exprs);
    if (!o->exprs)
        return usage_error("%s", "out of memory");
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (!strcmp(a, "-n") || !strcmp(a, "--dry-run"))
            o->dry_run = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            o->quiet = 1;
        else if (!strcmp(a, "--verbose"))
            o->verbose++;
        else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1))
            o->verbose += (int)strlen(a + 1);      /* -v, -vv, -vvv */
        else if (!strcmp(a, "-i"))
            o->interactive = 1;
        else if (!strcmp(a, "--syslog"))
            o->syslog = 1;
        else if (!strcmp(a, "--imapfilter"))
            o->imapfilter = 1;
        else if (!strcmp(a, "--init"))
            o->init = 1;
        else if (!strcmp(a, "--sieve") || !strcmp(a, "--sieve-install") ||
                 !strcmp(a, "--sieve-remove")) {
            const char *mode = a[7] == '\0' ? "print" : a[8] == 'i' ? "install" : "remove";
            if (o->sieve && strcmp(o->sieve, mode))
                return usage_error("%s: choose one of --sieve, --sieve-install, --sieve-remove", a);
            o->sieve = mode;
        }
        else if (!strcmp(a, "--oauth2-authorize")) {
            o->authorize = i;   /* the rest are its own options */
            return -1;
        } else if (!strcmp(a, "--no-state"))
            o->no_state = 1;
        else if (!strcmp(a, "--no-cache"))
            o->no_cache = 1;
        else if (!strcmp(a, "--cache-stats"))
            o->cache_stats = 1;
        else if (!strcmp(a, "--history") || !strcmp(a, "--undo")) {
            *(a[2] == 'h' ? &o->history : &o->undo) = 1;
            /* An optional RUN: a number right after. */
            if (i + 1 < argc && argv[i + 1][0] && strspn(argv[i + 1], "0123456789") ==
                                                      strlen(argv[i + 1]))
                o->run = argv[++i];
        } else if (!strcmp(a, "--state") || !strcmp(a, "--log")) {
            if (i + 1 >= argc)
                return usage_error("option %s needs an argument", a);
            *(a[2] == 's' ? &o->state_dir : &o->log) = argv[++i];
        }
        else if (!strcmp(a, "--trace") || !strcmp(a, "--plan-json") || !strcmp(a, "-e") ||
                 !strcmp(a, "--name")) {
            if (i + 1 >= argc)
                return usage_error("option %s needs an argument", a);
            const char *v = argv[++i];
            if (a[1] == 'e')
                o->exprs[o->nexprs++] = v;
            else if (a[2] == 't')
                o->trace = v;
            else if (a[2] == 'n')
                o->sieve_name = v;
            else
                o->plan_json = v;
        } else if (!strcmp(a, "--version")) {
            printf("imapscript %s (%s)\n", IMAPSCRIPT_VERSION, LUA_RELEASE);
            return EXIT_DONE;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return EXIT_DONE;
        } else
            return usage_error("unknown option %s", a);
    }
    if (i < argc) {
        o->script = argv[i];
        o->script_index = i;
    } else
        o->script_index = argc;
    if (!o->script && o->imapfilter) {
        /* imapfilter's own default config */
        static char path[PATH_MAX];
        const char *home = getenv("IMAPFILTER_HOME");
        int n = home && *home ? snprintf(path, sizeof path, "%s/config.lua", home)
                              : snprintf(path, sizeof path, "%s/.imapfilter/config.lua",
                                         getenv("HOME") ? getenv("HOME") : ".");
        if (n < 0 || (size_t)n >= sizeof path)
            return usage_error("%s", "--imapfilter: the default config path is too long");
        o->script = path;
    }
    if (o->sieve_name && !o->sieve)
        return usage_error("%s", "--name goes with --sieve, --sieve-install or --sieve-remove");
    if ((o->history || o->undo) && o->no_state)
        return usage_error("%s", "--history and --undo read the state database: not with --no-state");
    if (o->history && o->undo)
        return usage_error("%s", "--history or --undo, not both");
    if (o->cache_stats && o->no_state)
        return usage_error("%s", "--cache-stats reads the cache in the state directory: not with "
                           "--no-state");
    if (!o->script && !o->nexprs && !o->interactive && !o->init && !o->history && !o->undo &&
        !o->cache_stats)
        o->default_script = 1;
    return -1;
}

/* Lets `require "imapscript"` find the Lua modules: next to the binary when run
 * from the build tree, else where `make install` put them. */
static void set_lua_path(lua_State *L, const char *argv0)
{
    char dir[PATH_MAX];
    const char *env = getenv("IMAPSCRIPT_LUA_PATH");
    luaL_Buffer b;
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    if (env) {
        luaL_addstring(&b, env);
        luaL_addchar(&b, ';');
    } else {
        ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
        if (n <= 0 && argv0) {
            n = (ssize_t)strnlen(argv0, sizeof dir - 1);
            memcpy(dir, argv0, (size_t)n);
        }
        dir[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash) {
            /* build/imapscript -> ../lua */
            strcpy(slash, "/../lua/imapscript/init.lua");
            if (access(dir, R_OK) == 0) {
                slash[0] = '\0';
                luaL_addstring(&b, dir);
                luaL_addstring(&b, "/../lua/?.lua;");
                luaL_addstring(&b, dir);
                luaL_addstring(&b, "/../lua/?/init.lua;");
            }
        }
        luaL_addstring(&b, IMAPSCRIPT_LUADIR "/?.lua;" IMAPSCRIPT_LUADIR "/?/init.lua;");
    }
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    /* The core is linked in: require "imapscript.core" must not load a stray .so. */
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_imapscript_core);
    lua_setfield(L, -2, "imapscript.core");
    lua_pop(L, 2);
}

/* Message handler: remembers the exit code an error object asks for and adds a
 * traceback under -v. Error objects from the core are tables with `kind`. */
static int msghandler(lua_State *L)
{
    int code = EXIT_SCRIPT;
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "kind");
        const char *kind = lua_tostring(L, -1);
        /* The connection failed: refused, timed out, TLS, dropped or garbled by the server. */
        if (kind && (!strcmp(kind, "network") || !strcmp(kind, "tls") ||
                     !strcmp(kind, "closed") || !strcmp(kind, "protocol")))
            code = EXIT_NETWORK;
        else if (kind && !strcmp(kind, "auth"))
            code = EXIT_AUTH;
        else if (kind && !strcmp(kind, "busy"))
            code = EXIT_BUSY;
        lua_pop(L, 1);
    }
    lua_pushinteger(L, code);
    lua_setfield(L, LUA_REGISTRYINDEX, "imapscript.exitcode");

    const char *msg = luaL_tolstring(L, 1, NULL);
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.verbose");
    int verbose = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (verbose)
        luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Runs the function on top of the stack with nargs arguments; prints its error. */
static int run_protected(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    if (status == LUA_OK)
        return EXIT_DONE;
    print_error(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.exitcode");
    int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_SCRIPT;
    lua_pop(L, 1);
    return code;
}

/* The `arg` table as lua.c makes it: arg[0] the script, arg[1..] its arguments. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script_index)
{
    lua_createtable(L, argc - script_index, script_index + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script_index);
    }
    lua_setglobal(L, "arg");
}

/* Loads imapscript, hands it the command-line settings, makes `imap` global. */
static int load_imapscript(lua_State *L, const struct options *o)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "imapscript");
    int rc = run_protected(L, 1);   /* leaves nothing: re-read below */
    if (rc != EXIT_DONE)
        return rc;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_getfield(L, -1, "imapscript");
    lua_remove(L, -2);
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
        print_error("the imapscript module did not load a table");
        return EXIT_SCRIPT;
    }
    lua_getfield(L, -1, "_configure");
    lua_newtable(L);
    lua_pushboolean(L, o->dry_run);
    lua_setfield(L, -2, "dry_run");
    lua_pushboolean(L, o->quiet);
    lua_setfield(L, -2, "quiet");
    lua_pushinteger(L, o->verbose);
    lua_setfield(L, -2, "verbose");
    lua_pushboolean(L, o->syslog);
    lua_setfield(L, -2, "syslog");
    if (o->trace) {
        lua_pushstring(L, o->trace);
        lua_setfield(L, -2, "trace");
    }
    if (o->plan_json) {
        lua_pushstring(L, o->plan_json);
        lua_setfield(L, -2, "plan_json");
    }
    if (o->sieve) {
        lua_pushstring(L, o->sieve);
        lua_setfield(L, -2, "sieve");
        lua_pushstring(L, o->sieve_name ? o->sieve_name : "imapscript");
        lua_setfield(L, -2, "sieve_name");
    }
    lua_pushboolean(L, isatty(STDERR_FILENO));
    lua_setfield(L, -2, "tty");
    lua_pushboolean(L, *err_prefix != '\0');
    lua_setfield(L, -2, "journal");
    if (o->state_dir) {
        lua_pushstring(L, o->state_dir);
        lua_setfield(L, -2, "state_dir");
    }
    lua_pushboolean(L, o->no_state);
    lua_setfield(L, -2, "no_state");
    lua_pushboolean(L, o->no_cache);
    lua_setfield(L, -2, "no_cache");
    if (o->log) {
        lua_pushstring(L, o->log);
        lua_setfield(L, -2, "log");
    }
    rc = lua_isfunction(L, -2) ? run_protected(L, 1) : (lua_pop(L, 2), EXIT_DONE);
    if (rc != EXIT_DONE)
        return rc;
    /* Kept where scripts cannot reach it: the end of the run must flush even if the
     * script replaced the global. */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "imapscript.module");
    lua_setglobal(L, "imap");
    if (o->imapfilter) {
        /* imapfilter's globals (IMAP, options, Set, ...) replace `imap`; ours stays
         * reachable as `imapscript`. */
        static const char install[] = "require('imapscript.compat.imapfilter').install()";
        if (luaL_loadbuffer(L, install, sizeof install - 1, "=imapfilter") != LUA_OK) {
            print_error(lua_tostring(L, -1));
            lua_pop(L, 1);
            return EXIT_SCRIPT;
        }
        rc = run_protected(L, 0);
    }
    return rc;
}

/* Protected part of run_authorize: (args) -> stores authorize.main(args) as the exit code. */
static int authorize_call(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "imapscript.authorize");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "imapscript.authorize_rc");
    return 0;
}

/* --oauth2-authorize ARGS: lua/imapscript/authorize.lua does the work. A secret given as
 * --client-secret S is overwritten in argv once copied, so ps shows it only while we start. */
static int run_authorize(lua_State *L, int argc, char **argv, int at)
{
    lua_pushcfunction(L, authorize_call);
    lua_createtable(L, argc - at, 0);
    for (int i = at + 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - at);
        if (!strcmp(argv[i - 1], "--client-secret"))
            memset(argv[i], '*', strlen(argv[i]));
    }
    int rc = run_protected(L, 1);
    if (rc != EXIT_DONE)
        return rc;
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.authorize_rc");
    rc = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_DONE;
    lua_pop(L, 1);
    return rc;
}

/* Calls imap[name](args...) from the registry's module; pushes nothing, returns the exit code.
 * RUN is passed as a number, or nil. */
static int call_module(lua_State *L, const char *name, const char *run, const char *script)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.module");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    if (run)
        lua_pushinteger(L, strtoll(run, NULL, 10));
    else
        lua_pushnil(L);
    if (script)
        lua_pushstring(L, script);
    else
        lua_pushnil(L);
    return run_protected(L, 2);
}

/* Flushes queued actions and logs out: what every script gets at its end. rc tells the journal
 * how the script ended (and --sieve-install installs nothing after an error). */
static int finish(lua_State *L, int rc)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.module");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return EXIT_DONE;
    }
    lua_getfield(L, -1, "_finish");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return EXIT_DONE;
    }
    lua_pushinteger(L, rc);
    return run_protected(L, 1);
}

/* Calls require("imapscript.starter")[fn](arg) under the message handler; with want_string,
 * leaves its string result on the stack (else pushes nothing). Returns an exit code. */
static int call_starter(lua_State *L, const char *fn, int arg, int want_string)
{
    static const char chunk[] =
        "local fn, arg = ... return require('imapscript.starter')[fn](arg)";
    if (luaL_loadbuffer(L, chunk, sizeof chunk - 1, "=starter") != LUA_OK) {
        print_error(lua_tostring(L, -1));
        lua_pop(L, 1);
        return EXIT_SCRIPT;
    }
    lua_pushstring(L, fn);
    lua_pushboolean(L, arg);
    int base = lua_gettop(L) - 2;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int st = lua_pcall(L, 2, want_string ? 1 : 0, base);
    lua_remove(L, base);
    if (st == LUA_OK)
        return EXIT_DONE;
    print_error(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "imapscript.exitcode");
    int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_SCRIPT;
    lua_pop(L, 1);
    return code;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    if (stderr_is_journal())
        err_prefix = "<3>";
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free(o.exprs);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);   /* a dropped server is an error, not a signal */

    lua_State *L = luaL_newstate();
    if (!L) {
        print_error("cannot create the Lua state: out of memory");
        return EXIT_SCRIPT;
    }
    luaL_openlibs(L);
    lua_pushboolean(L, o.verbose > 0);
    lua_setfield(L, LUA_REGISTRYINDEX, "imapscript.verbose");
    set_lua_path(L, argv[0]);
    if (o.authorize) {
        rc = run_authorize(L, argc, argv, o.authorize);
        lua_close(L);
        free(o.exprs);
        return rc;
    }
    create_arg_table(L, argc, argv, o.script_index);

    rc = load_imapscript(L, &o);
    if (rc == EXIT_DONE && o.init) {
        rc = call_starter(L, "init", isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), 0);
        if (rc == 1)
            rc = EXIT_USAGE;        /* it exists already, or the directory cannot be made */
        lua_close(L);
        free(o.exprs);
        return rc;
    }
    if (rc == EXIT_DONE && o.cache_stats) {
        rc = call_module(L, "_cache_stats", NULL, NULL);
        lua_close(L);
        free(o.exprs);
        return rc;
    }
    if (rc == EXIT_DONE && o.history) {
        rc = call_module(L, "_history", o.run, NULL);
        lua_close(L);
        free(o.exprs);
        return rc;
    }
    if (rc == EXIT_DONE && o.undo) {
        rc = call_module(L, "_undo", o.run, o.script);
        int frc = finish(L, rc);
        lua_close(L);
        free(o.exprs);
        return rc == EXIT_DONE ? frc : rc;
    }
    /* No script named: the rules file in the config directory, if there is one. */
    static char default_path[PATH_MAX];
    if (rc == EXIT_DONE && o.default_script &&
        (rc = call_starter(L, "default_script", 0, 1)) == EXIT_DONE) {
        snprintf(default_path, sizeof default_path, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        if (access(default_path, R_OK) == 0)
            o.script = default_path;
        else {
            fprintf(stderr, "%simapscript: no script given, and %s does not exist "
                    "('imapscript --init' writes a starter there)\n"
                    "Try 'imapscript --help'.\n", err_prefix, default_path);
            rc = EXIT_USAGE;
        }
    }
    for (int i = 0; rc == EXIT_DONE && i < o.nexprs; i++) {
        if (luaL_loadbuffer(L, o.exprs[i], strlen(o.exprs[i]), "=(command line)") != LUA_OK) {
            print_error(lua_tostring(L, -1));
            rc = EXIT_SCRIPT;
        } else
            rc = run_protected(L, 0);
    }
    if (rc == EXIT_DONE && o.script) {
        const char *file = strcmp(o.script, "-") ? o.script : NULL;
        if (luaL_loadfile(L, file) != LUA_OK) {
            print_error(lua_tostring(L, -1));
            rc = EXIT_SCRIPT;
        } else {
            int nargs = 0;
            for (int i = o.script_index + 1; i < argc; i++, nargs++)
                lua_pushstring(L, argv[i]);
            rc = run_protected(L, nargs);
        }
    }
    if (rc == EXIT_DONE && o.interactive)
        repl_run(L, msghandler);
    /* Queued actions still go out after a script error: what ran before it was
     * meant. The first failure decides the exit code. */
    int frc = finish(L, rc);
    if (rc == EXIT_DONE)
        rc = frc;
    lua_close(L);
    free(o.exprs);
    return rc;
}
