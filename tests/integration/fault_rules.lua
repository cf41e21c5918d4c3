-- fault_rules.lua — the housekeeping rules fault_spec.lua cuts off: overlapping moves, flags,
-- a delete, a chain, and a move to another account. Arguments: port (a faultproxy in front of
-- the test bed's plaintext port), the source mailbox, alice's and bob's passwords.
local port, src, pw1, pw2 = tonumber(arg[1]), arg[2], arg[3], arg[4]
local function account(user, pw)
  return imap.account { host = "127.0.0.1", port = port, tls = "none", user = user, password = pw,
                        create = true }
end
local acct, bob = account("alice", pw1), account("bob", pw2)
local Q = imap.query
local box = acct[src]
box:search(Q.header("List-Id", "lua-l") | Q.header("List-Id", "dovecot")):move_to(acct[src .. "/lists"])
box:search(Q.flagged):add_flags { "$Keep" }
box:search(Q.seen & ~Q.flagged & Q.before "2022-01-01"):move_to(acct[src .. "/old"])
box:search(Q.larger(30000) & ~Q.keyword "$Keep"):delete()
box:search(Q.unseen & Q.subject "PATCH"):mark_seen():move_to(acct[src .. "/patches"])
box:search(Q.from "corp.example"):move_to(bob[src .. "-alice"])
