from serverless_patterns.stage import pipeline_stage


@pipeline_stage
def handler(item):
    return {**item, "seen": True}
