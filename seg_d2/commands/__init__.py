"""seg_d2's commands, one module each, with ``main(argv)`` (what the command does) and
``run(argv)`` (``main`` as a command: a bad input ends it with one message). ``seg-d2
COMMAND`` (seg_d2.cli) and the scripts in tools/ run them."""
