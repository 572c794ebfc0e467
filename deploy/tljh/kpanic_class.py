# The Littlest JupyterHub: the kpanic_lab class's additions to the hub's config.
# deploy/tljh/install.sh copies this file to /opt/tljh/config/jupyterhub_config.d/, which TLJH loads
# after its own config.  The per-student memory and CPU limits are set with tljh-config there
# (limits.memory, limits.cpu), the same figures as deploy/z2jh/config.yaml.
c = get_config()  # noqa: F821

c.Spawner.environment.update({
    # glibc hands multi-MiB buffers (snapshots, dump chunks) back to the system when freed
    "MALLOC_MMAP_THRESHOLD_": "131072",
    # deploy/jupyter/jupyter_server_config.json: server extensions a student does not use, off
    "JUPYTER_CONFIG_PATH": "/opt/kpanic_lab/deploy/jupyter",
})
# a student's server starts in a few seconds even with a class logging in at once (tests/hub)
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 120
