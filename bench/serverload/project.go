package main

// projectYAML is the project.yaml of every seeded job request: ten
// actions, as a typical study has them (one cohort extraction that reads
// the database, data processing, descriptive tables, two models, a
// figure, and a report combining them), each with the outputs and needs a
// real study declares. Its size (about 3 kB) is in the range of the
// studies' project files, and the job request page shows it in full.
const projectYAML = `version: '3.0'

# Bench study: a cohort extraction, its processing and the analyses built
# on it. The job server's load benchmark stores this file with every job
# request it seeds.

expectations:
  population_size: 10000

actions:

  generate_study_population:
    run: cohortextractor:latest generate_cohort --study-definition study_definition --output-format csv.gz
    outputs:
      highly_sensitive:
        cohort: output/input.csv.gz

  process_data:
    run: r:latest analysis/process_data.R --input output/input.csv.gz
    needs: [generate_study_population]
    outputs:
      highly_sensitive:
        data: output/data/processed.rds

  describe_demographics:
    run: r:latest analysis/describe.R --group demographics
    needs: [process_data]
    outputs:
      moderately_sensitive:
        table: output/tables/demographics.csv
        log: logs/describe_demographics.log

  describe_outcomes:
    run: r:latest analysis/describe.R --group outcomes
    needs: [process_data]
    outputs:
      moderately_sensitive:
        table: output/tables/outcomes.csv
        log: logs/describe_outcomes.log

  model_primary:
    run: r:latest analysis/model.R --analysis primary
    needs: [process_data]
    outputs:
      moderately_sensitive:
        estimates: output/models/primary_estimates.csv
        diagnostics: output/models/primary_diagnostics.txt

  model_sensitivity:
    run: r:latest analysis/model.R --analysis sensitivity
    needs: [process_data]
    outputs:
      moderately_sensitive:
        estimates: output/models/sensitivity_estimates.csv
        diagnostics: output/models/sensitivity_diagnostics.txt

  table_1:
    run: python:latest analysis/table_1.py --rounding 5
    needs: [process_data]
    outputs:
      moderately_sensitive:
        table: output/tables/table_1.csv

  figure_incidence:
    run: python:latest analysis/figure_incidence.py --by month
    needs: [process_data]
    outputs:
      moderately_sensitive:
        figure: output/figures/incidence.png
        data: output/figures/incidence.csv

  combine_tables:
    run: python:latest analysis/combine_tables.py
    needs: [table_1, model_primary, model_sensitivity, describe_demographics, describe_outcomes]
    outputs:
      moderately_sensitive:
        tables: output/report/tables.html

  report:
    run: python:latest analysis/report.py
    needs: [combine_tables, figure_incidence]
    outputs:
      moderately_sensitive:
        report: output/report/report.html
`

// actionsPerRequest is how many actions projectYAML has, and so how many
// jobs each seeded request holds.
const actionsPerRequest = 10
