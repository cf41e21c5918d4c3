-- model_lua_spec.lua — the dry run's model (model.lua): what planned actions remove and the
-- flags they change, as later searches (rewritten queries) and fetched flags see them.
local core = require "imapscript.core"
local model = require "imapscript.model"
local Q = require("imapscript.query").Q

describe("the dry-run model", function()
  before_each(function() model.reset() end)

  it("leaves out what an earlier move or delete took", function()
    local box = {}
    model.apply({ verb = "move" }, box, core.set("1:3"))
    model.apply({ verb = "delete" }, box, core.set("7"))
    assert.are.equal("4:6,8", tostring(model.present(box, core.set("1:8"))))
    assert.are.equal("SEEN NOT UID 1:3,7", tostring(model.query(box, Q.seen)))
    -- a kept move (expunge = false) leaves the messages, flagged \Deleted
    model.apply({ verb = "move", keep = true }, box, core.set("9"))
    assert.are.equal("9", tostring(model.present(box, core.set("9"))))
    assert.are.equal("OR DELETED UID 9 NOT UID 1:3,7", tostring(model.query(box, Q.deleted)))
  end)

  it("rewrites flag keys after a store: seen, unseen, new, keywords", function()
    local box = {}
    model.apply({ verb = "store", mode = "+", flags = { "\\seen" } }, box, core.set("5"))
    model.apply({ verb = "store", mode = "-", flags = { "\\Seen" } }, box, core.set("2"))
    model.apply({ verb = "store", mode = "+", flags = { "$Todo" } }, box, core.set("4"))
    assert.are.equal("OR (SEEN NOT UID 2) UID 5", tostring(model.query(box, Q.seen)))
    assert.are.equal("NOT OR (SEEN NOT UID 2) UID 5", tostring(model.query(box, Q.unseen)))
    assert.are.equal("RECENT NOT OR (SEEN NOT UID 2) UID 5", tostring(model.query(box, Q.new)))
    assert.are.equal("OR KEYWORD $Todo UID 4 FROM \"x\"",
      tostring(model.query(box, Q.keyword "$Todo" & Q.from "x")))
    -- a search that tests no changed flag is sent as it is
    local q = Q.from "y"
    assert.are.equal(tostring(q), tostring(model.query(box, q)))
    -- fetched flags follow
    assert.are.same({ "\\Seen" }, model.flags(box, 5, {}))
    assert.are.same({}, model.flags(box, 2, { "\\Seen" }))
  end)

  it("set_flags decides every flag of its messages, also ones named later", function()
    local box = {}
    model.apply({ verb = "store", mode = "=", flags = { "$B" } }, box, core.set("1:2"))
    -- \Seen and \Flagged are gone from messages 1 and 2
    assert.are.equal("SEEN NOT UID 1:2", tostring(model.query(box, Q.seen)))
    assert.are.equal("FLAGGED NOT UID 1:2", tostring(model.query(box, Q.flagged)))
    assert.are.equal("OR KEYWORD $B UID 1:2", tostring(model.query(box, Q.keyword "$B")))
    assert.are.same({ "$B" }, model.flags(box, 1, { "\\Seen", "$A" }))
  end)

  it("tells whether a search tests the flags a store changes", function()
    assert.is_true(model.tests_flags(Q.unseen & Q.subject "PATCH", { "\\Seen" }))
    assert.is_true(model.tests_flags(Q.new, { "\\Seen" }))
    assert.is_true(model.tests_flags(~Q.keyword "$Done", { "$Done" }))
    assert.is_false(model.tests_flags(Q.from "x" & Q.flagged, { "\\Seen", "$Todo" }))
  end)
end)
