"""``wk up --demo``: targets started in-process and a config pointed at them."""
