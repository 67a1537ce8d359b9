from django.apps import AppConfig


class TariffsConfig(AppConfig):
    name = "tariffs"
    verbose_name = "Tariffs and cost"

    def ready(self) -> None:
        from stations import background
        from stations.api.parts import TransactionPart, add_transaction_part
        from tariffs import remote  # noqa: F401  (declares CostUpdated)
        from tariffs.api.serializers import transaction_cost
        from tariffs.running import running_cost_job

        background.contribute(running_cost_job)
        add_transaction_part(TransactionPart("cost", transaction_cost, ("cost",)))
