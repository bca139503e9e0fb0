-- FUNCTION libraries and INTERPRET's globals, in a Lua state set up by sandbox.lua.
--
-- Called with the sandbox's internals and one table of Python bridges; returns the
-- functions functions.py drives. As in Redis 7.0, library code runs once, at FUNCTION
-- LOAD, in globals that hold only the library API (`redis.register_function`,
-- `redis.log` and the version fields): the sandbox's environment is pointed at that API
-- for the load and back at the usual globals afterwards, so the callbacks a library
-- registers see the same locked globals scripts see when FCALL runs them.
--
-- INTERPRET code gets its own environment: reads go to the globals INTERPRET defined,
-- then to the sandbox's; writes are taken only while an INTERPRET runs, so LUAFUNC calls
-- cannot change what a restart rebuilds from the INTERPRET sources. An INTERPRET that
-- fails leaves the globals as they were.

local sb = ...
local ENV, env_meta, allowed = sb.env, sb.env_meta, sb.allowed
local protect, readonly, handler = sb.protect, sb.readonly, sb.handler
local sethook = sb.sethook
local setfenv, setmetatable, rawget, rawset = setfenv, setmetatable, rawget, rawset
local type, select, error, tostring, next, unpack = type, select, error, tostring, next, unpack
local xpcall = xpcall
local string_lower = string.lower

local function missing(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

local function fail(message)
    error({err = "ERR " .. message})
end

-- -- redis.register_function ------------------------------------------------------------

local registering = nil  -- while a library loads: the Python function that records one

-- The flags Redis knows, by their lower-case spelling (matched without regard to case).
local FLAGS = {}
for _, name in ipairs({"no-writes", "allow-oom", "allow-stale", "no-cluster",
                       "allow-cross-slot-keys"}) do
    FLAGS[name] = name
end

local function is_text(v)
    return type(v) == "string" or type(v) == "number"
end

local function read_flags(t)
    local names = {}
    local i = 1
    while true do
        local flag = t[i]
        if flag == nil then break end
        local name = is_text(flag) and FLAGS[string_lower(tostring(flag))]
        if not name then fail("unknown flag given") end
        names[#names + 1] = name
        i = i + 1
    end
    return table.concat(names, ",")
end

local function named_arguments(t)
    if type(t) ~= "table" then
        fail("calling redis.register_function with a single argument is only applicable "
             .. "to Lua table (representing named arguments).")
    end
    local name, callback, description, flags = nil, nil, nil, ""
    for key, value in next, t do
        if not is_text(key) then
            fail("named argument key given to redis.register_function is not a string")
        end
        key = string_lower(tostring(key))
        if key == "function_name" then
            if not is_text(value) then
                fail("function_name argument given to redis.register_function must be a string")
            end
            name = tostring(value)
        elseif key == "description" then
            if not is_text(value) then
                fail("description argument given to redis.register_function must be a string")
            end
            description = tostring(value)
        elseif key == "callback" then
            if type(value) ~= "function" then
                fail("callback argument given to redis.register_function must be a function")
            end
            callback = value
        elseif key == "flags" then
            if type(value) ~= "table" then
                fail("flags argument to redis.register_function must be a table "
                     .. "representing function flags")
            end
            flags = read_flags(value)
        else
            fail("unknown argument given to redis.register_function")
        end
    end
    if name == nil then fail("redis.register_function must get a function name argument") end
    if callback == nil then fail("redis.register_function must get a callback argument") end
    return name, callback, description, flags
end

local function register_function(...)
    if registering == nil then
        fail("redis.register_function can only be called on FUNCTION LOAD command")
    end
    local n = select("#", ...)
    if n < 1 or n > 2 then fail("wrong number of arguments to redis.register_function") end
    local name, callback, description, flags
    if n == 1 then
        name, callback, description, flags = named_arguments((...))
    else
        name, callback = ...
        if not is_text(name) then
            fail("first argument to redis.register_function must be a string")
        end
        if type(callback) ~= "function" then
            fail("second argument to redis.register_function must be a function")
        end
        name, flags = tostring(name), ""
    end
    local refusal = registering(name, callback, description, flags)
    if refusal then fail(refusal) end
end

-- -- the library API: the only globals library code has while it loads ------------------

local library_redis = {register_function = register_function}
for _, field in ipairs({"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                        "REDIS_VERSION", "REDIS_VERSION_NUM"}) do
    library_redis[field] = sb.redis[field]
end
setmetatable(library_redis, {__index = missing})
local library_api = setmetatable({redis = protect(library_redis)}, {__index = missing})

local load_expired = nil  -- while a library loads with a time limit: has it passed?

local function load_hook()
    if load_expired ~= nil and load_expired() then
        load_expired = nil
        error({err = "ERR FUNCTION LOAD timeout"})
    end
end

-- Compile and run a library's code (the text after its #! line) with `register` taking
-- each function it registers. Answers 0 | 1, compile error | 2, error message.
local function load_library(body, register, expired)
    local f, message = sb.loadstring(body, "@user_function")
    if not f then return 1, message end
    registering, load_expired = register, expired or nil
    env_meta.__index = library_api
    sethook(load_hook, "", sb.hook_count)
    local ok, err = xpcall(f, handler)
    sethook(sb.hook, "", sb.hook_count)
    env_meta.__index = allowed
    registering, load_expired = nil, nil
    if ok then return 0 end
    if type(err) == "table" then return 2, err.err end
    return 2, "ERR " .. tostring(err)  -- out of memory: the handler did not run
end

-- -- INTERPRET's globals --------------------------------------------------------------

local user = setmetatable({}, {__index = allowed})
local defining, saved = false, nil
local user_env = setmetatable({}, {
    __index = user,
    __newindex = function(_, name, value)
        if not defining then error("Attempt to modify a readonly table", 2) end
        if rawget(allowed, name) ~= nil then
            error("Attempt to redefine the built-in global '" .. tostring(name) .. "'", 2)
        end
        rawset(user, name, value)
    end,
    __metatable = false,
})
readonly[user_env] = true
rawset(user, "_G", user_env)

local function interpret_compile(body)
    local f, message = sb.loadstring(body, "@user_interpret")
    if f then setfenv(f, user_env) end
    return f, message
end

local function begin_defining()
    saved = {}
    for name, value in next, user do saved[name] = value end
    defining = true
end

local function end_defining(ok)
    defining = false
    if not ok then  -- put back the globals as they were before
        for name in next, user do user[name] = nil end
        for name, value in next, saved do rawset(user, name, value) end
    end
    saved = nil
end

local function user_function(name)
    local f = rawget(user, name)
    if type(f) == "function" then return f end
    return nil
end

-- A call made while another run is under way (SQL reached from a running script): no
-- new run, errors answered as a run answers them. 5, value | 2, message.
local function call_nested(f, ...)
    local n, args = select("#", ...), {...}
    local ok, result = xpcall(function() return f(unpack(args, 1, n)) end, handler)
    if ok then return 5, result end
    if type(result) == "table" then return 2, result.err end
    return 2, "ERR " .. tostring(result)
end

return {load_library = load_library, interpret_compile = interpret_compile,
        begin_defining = begin_defining, end_defining = end_defining,
        user_function = user_function, call_nested = call_nested}
