"""The remote probe (``wk agent``): checks the monitors its node assigns to its location and
pushes the Results over HTTP(S), keeping them on disk while the node is away.

``runner.Agent`` is the loop, ``client.AgentClient`` the protocol, ``buffer.Buffer`` the disk
buffer. Nothing here is imported by the node: the node's side of the protocol lives in
``watchkeeper.cluster`` and the web API.
"""
