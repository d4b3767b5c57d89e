// The global usage (`--help`) and each command's own, printed by `loomcycle-mcp-bridge
// COMMAND --help` (or `help COMMAND`). sim's is in src/sim/cli.ts, which `npm run sim` shares.

export const HELP = `loomcycle-mcp-bridge ${"{version}"} — drive interactive loomcycle runs from any MCP host

Usage:
  loomcycle-mcp-bridge              serve MCP over stdio (what hosts run)
  loomcycle-mcp-bridge --sandbox    serve against a built-in loomcycle simulator (no loomcycle needed)
  loomcycle-mcp-bridge doctor       check the setup: loomcycle reachable, token accepted (whoami), runnable agents,
                                    user id; prints a fix under each problem; exit 0 = the bridge would work, 1 = not
  loomcycle-mcp-bridge config HOST  print a ready-to-paste config entry for HOST (claude-desktop, claude-code or
                                    opencode): absolute paths, current base URL / user id, never a token value;
                                    the options below given to config go into the entry (--sandbox too)
  loomcycle-mcp-bridge demo         run a scripted session against the simulator and print it (touches nothing of yours;
                                    demo --speed X runs its agents X times their pace)
  loomcycle-mcp-bridge sim [--port N] [--token T] …
                                    run the built-in loomcycle simulator on its own and print its URL and token;
                                    unlike --sandbox it outlives the bridge (for clients that start one process
                                    per call, e.g. the Inspector CLI); sim --help lists its options
  loomcycle-mcp-bridge state [list | prune [BASE_URL…]]
                                    list the state files that keep read positions (one per base URL and user);
                                    prune the stale ones, or those of the base URLs given
  loomcycle-mcp-bridge COMMAND --help
                                    that command's usage and options
  loomcycle-mcp-bridge --help | --version

Options (override the environment variables of the same meaning):
  --base-url URL       LOOMCYCLE_BASE_URL       loomcycle's URL (default http://127.0.0.1:8787)
  --token-file PATH    LOOMCYCLE_AUTH_TOKEN_FILE read the bearer token from a file
                       LOOMCYCLE_AUTH_TOKEN     the bearer token (there is deliberately no --token flag:
                                                command lines are visible to other users)
  --user-id ID         LOOMCYCLE_USER_ID        user_id for new runs and user-scoped lists
  --log-level LEVEL    LOOMCYCLE_MCP_LOG_LEVEL  fatal|error|warn|info|debug|trace|silent (default info)
  --sandbox                                     serve a built-in simulator instead of loomcycle, as user "sandbox";
                                                it reads none of loomcycle's settings (LOOMCYCLE_BASE_URL,
                                                LOOMCYCLE_AUTH_TOKEN[_FILE], LOOMCYCLE_USER_ID; their flags are
                                                refused), honours LOOMCYCLE_MCP_* and saves nothing
                       LOOMCYCLE_MCP_QUESTIONS  who answers agents' questions by default: host (the host's model,
                                                default) or human (the person, via MCP elicitation)
                       LOOMCYCLE_MCP_PARK_RELEASE_MS  a parked run nobody reads, waits on or subscribes to
                                                closes its stream to loomcycle after this long and
                                                re-attaches on the next use (default 120000; 0 never)

Logs go to stderr; stdout carries JSON-RPC only.`;

const CONNECTION_OPTIONS = `Options (override the environment variables of the same meaning):
  --base-url URL       LOOMCYCLE_BASE_URL        loomcycle's URL (default http://127.0.0.1:8787)
  --token-file PATH    LOOMCYCLE_AUTH_TOKEN_FILE read the bearer token from a file
                       LOOMCYCLE_AUTH_TOKEN      the bearer token (deliberately no flag)
  --user-id ID         LOOMCYCLE_USER_ID         user_id for new runs and user-scoped lists
  --log-level LEVEL    LOOMCYCLE_MCP_LOG_LEVEL   fatal|error|warn|info|debug|trace|silent (default info)`;

export const USAGE = {
  doctor: `usage: loomcycle-mcp-bridge doctor [--base-url URL] [--token-file PATH] [--user-id ID] [--log-level LEVEL]

Checks, one line each, whether the bridge would work with this configuration: loomcycle
reachable, the token accepted (whoami), runnable agents visible, the user id right for the
token; prints the fix under each problem. Run it with the same environment as your host's
entry. Exit 0: the bridge would work; 1: it would not; 2: the configuration is wrong.

${CONNECTION_OPTIONS}

No loomcycle yet? \`loomcycle-mcp-bridge demo\` shows a session against the built-in simulator,
and \`loomcycle-mcp-bridge --sandbox\` serves one to your host.`,

  config: `usage: loomcycle-mcp-bridge config HOST [--sandbox] [--base-url URL] [--token-file PATH] [--user-id ID] [--log-level LEVEL]

Prints a ready-to-paste entry for HOST: claude-desktop, claude-code or opencode, with
absolute paths and your current LOOMCYCLE_BASE_URL / LOOMCYCLE_USER_ID (never a token value).
The options given go into the entry; --sandbox makes it serve the built-in simulator.

${CONNECTION_OPTIONS}
  --sandbox                                      an entry that serves the built-in simulator`,

  demo: `usage: loomcycle-mcp-bridge demo [--speed X]

Runs a scripted MCP session (start a run, read it, steer it, answer its question) against
the built-in loomcycle simulator, and prints it. Needs no loomcycle and touches nothing of
yours: no state files, none of your LOOMCYCLE_* settings.

  --speed X   multiplies the simulated agents' delays and the demo's own short waits
              (default 1, a readable pace; 0.05 runs twenty times faster, as the tests do)`,

  state: `usage: loomcycle-mcp-bridge state [list]
       loomcycle-mcp-bridge state prune [BASE_URL…]

The bridge keeps the read positions of the runs it follows in one small file per base URL
and user, under $XDG_STATE_HOME/loomcycle-mcp-bridge/ (or ~/.local/state/…).

  state [list]              each file: base URL, user, runs, when last used; stale ones are marked
  state prune               remove the stale ones: unreadable, or nothing in them used for 14 days
                            (the bridge would ignore them anyway)
  state prune BASE_URL…     remove the files of these base URLs (e.g. a simulator you stopped):
                            the bridge forgets where it read to in their runs, nothing else

A stopped \`loomcycle-mcp-bridge sim\` removes the files of its own runs itself; --sandbox and
demo never write any.`,
} as const;
