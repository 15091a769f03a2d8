"""A processing feedback for the algorithm tier's tests that keeps what a run reports."""

from qgis.core import QgsProcessingFeedback


class KeepingFeedback(QgsProcessingFeedback):
    """Feedback that keeps the warnings (pushWarning) and the errors (reportError) a run gives."""

    def __init__(self):
        super().__init__()
        self.warnings = []
        self.errors = []

    def pushWarning(self, warning):
        self.warnings.append(warning)
        super().pushWarning(warning)

    def reportError(self, error, fatalError=False):
        self.errors.append(error)
        super().reportError(error, fatalError)

    @property
    def messages(self):
        """Every warning and error, warnings first."""
        return self.warnings + self.errors
