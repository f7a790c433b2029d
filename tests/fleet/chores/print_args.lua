-- Prints the words it was given, one a line: what t.run passed (tests/fleet/run_args_test.lua).
for i = 1, #arg do print(arg[i]) end
