from django.apps import AppConfig


class ConsensusConfig(AppConfig):
    name = "consensus"
    verbose_name = "Consensus"

    def ready(self) -> None:
        from consensus import receivers  # noqa: F401 (connects the signal receivers)
