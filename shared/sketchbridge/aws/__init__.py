"""Adapters over AWS services. The only package that imports boto3."""
